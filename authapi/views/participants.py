"""Participant records (contract §5.1): GetParticipantDetails, a participant's keys, and the signature check."""

import datetime as dt

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions

from ocen_sdk import diagnose
from participants.models import Participant
from participants.wire import publication

from .. import compiled, schemas, signing
from ..memory import memory
from ..representations import encode, etag_of, fresh_until, jwks_document, participant_document
from .base import RegistryView, parse_participant_id


def rendered(request, kind: str, participant_id: str, render) -> tuple[bytes, str, str, dt.datetime | None]:
    """A participant's published document, its ETag, the registry's signature over it and the time of its
    next scheduled switch of primary key, cached under the participant's change stamp.

    The stamp is read from the database on every call (with the bearer check, in one statement), and an
    entry is not used past the switch it knows of, so a cached rendering is never stale.
    """
    pk = parse_participant_id(participant_id)
    caller = request.auth
    stamp = caller.subject_stamp if caller is not None and caller.subject_id == pk else compiled.participant_stamp(pk)
    if stamp is None:
        raise exceptions.NotFound(f"No participant with id {participant_id!r}.")
    kid = caller.active_kid if caller is not None and caller.active_kid else signing.active_kid()
    key = (kind, pk, stamp, kid)
    rendering = memory.rendering(key, timezone.now())
    if rendering is None:
        participant, keys = Participant.objects.get_with_keys(pk)
        body = encode(render(participant, keys))
        rendering = (body, etag_of(body), signing.sign_detached(body, kid), fresh_until([(participant, keys)]))
        memory.keep_rendering(key, rendering, settings.OCEN_REGISTRY_MAX_AGE)
    return rendering


class ParticipantDetailView(RegistryView):
    """GetParticipantDetails (contract §5.1)."""

    subject_kwarg = "participant_id"

    @extend_schema(
        operation_id="GetParticipantDetails",
        tags=["registry"],
        responses={
            200: schemas.ParticipantDetails,
            304: OpenApiResponse(description="Not modified"),
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, participant_id):
        return self.cacheable(request, *rendered(request, "details", participant_id, participant_document))


class ParticipantJWKSView(RegistryView):
    """A participant's keys as a JWKS, with their statuses."""

    subject_kwarg = "participant_id"

    @extend_schema(
        operation_id="GetParticipantKeys",
        tags=["registry"],
        responses={
            200: schemas.ParticipantJWKS,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, participant_id):
        return self.cacheable(request, *rendered(request, "jwks", participant_id, jwks_document))


class SignatureCheckView(RegistryView):
    """Why a detached JWS does or does not verify, step by step (ocen_sdk.diagnose, the toolkit's own check)."""

    @extend_schema(
        operation_id="CheckSignature",
        tags=["registry"],
        request=schemas.SignatureCheckRequest,
        responses={200: schemas.SignatureCheckResult, 400: schemas.RegistryError, **schemas.REGISTRY_ERRORS},
    )
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        body, signature = data.get("body"), data.get("signature")
        if not isinstance(body, str) or not isinstance(signature, str) or not signature or len(body) > 1_000_000:
            raise exceptions.ValidationError(
                {"body": "body (a string, at most 1 MB) and signature (a non-empty string) are required."}
            )
        participant_id = data.get("participantId", request.auth.participant_id)
        if not isinstance(participant_id, str):
            raise exceptions.ValidationError({"participantId": "must be a participant id (UUID)."})
        try:
            participant, keys = Participant.objects.get_with_keys(parse_participant_id(str(participant_id)))
        except Participant.DoesNotExist:
            raise exceptions.NotFound(f"No participant with id {participant_id!r}.") from None
        published = publication(participant, keys).items  # as verifiers see them
        return JsonResponse(diagnose(body.encode("utf-8"), signature, published).as_json())
