"""What the participant API's views share: JSON answers; for registry reads, bearer authentication,
ETags, max-age and the registry's signature."""

import datetime as dt
import uuid

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import parse_etags
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ..abuse import ParticipantRateThrottle
from ..authentication import ParticipantTokenAuthentication
from ..middleware import SIGNATURE_HEADER
from ..representations import encode, etag_of


class JSONOnly(BaseContentNegotiation):
    """The API answers JSON whatever the Accept header says (RFC 6749 §5.1, contract §5), without
    negotiating on every request."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RegistryView(APIView):
    """Registry API base: bearer token of an approved, active participant; §5 errors."""

    authentication_classes = [ParticipantTokenAuthentication]
    throttle_classes = [ParticipantRateThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    # The URL argument naming the participant a read is about, if any: the bearer check reads that
    # participant's change stamp in the same statement (authapi/compiled.py, CALLER).
    subject_kwarg: str | None = None

    def respond(self, request, document, switch_at: dt.datetime | None = None) -> HttpResponse:
        """A rendered answer with its ETag (If-None-Match → 304); signed on the way out."""
        body = encode(document)
        return self.cacheable(request, body, etag_of(body), switch_at=switch_at)

    def cacheable(
        self, request, body: bytes, etag: str, signature: str | None = None, switch_at: dt.datetime | None = None
    ) -> HttpResponse:
        headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age_until(switch_at)}"}
        if signature:
            headers[SIGNATURE_HEADER] = signature
        # RFC 9110 §13.1.2: If-None-Match compares weakly (W/"x" matches "x"), and "*" matches any current record.
        tags = [tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))]
        if etag in tags or tags == ["*"]:
            response = HttpResponse(status=304, headers=headers)
            del response["Content-Type"]  # a 304 has no body, so no body type
            return response
        return HttpResponse(body, content_type="application/json", headers=headers)


def max_age_until(switch_at: dt.datetime | None) -> int:
    """An answer's Cache-Control max-age: OCEN_REGISTRY_MAX_AGE, but never past a scheduled switch of
    primary key of a participant it carries, so that providers reading only publicKey refetch then."""
    if switch_at is None:
        return settings.OCEN_REGISTRY_MAX_AGE
    return max(0, min(settings.OCEN_REGISTRY_MAX_AGE, int((switch_at - timezone.now()).total_seconds())))


def parse_participant_id(participant_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(participant_id)
    except ValueError:
        raise exceptions.NotFound(f"No participant with id {participant_id!r}.") from None
