"""
Audience-bound access tokens (RFC 8707 resource indicators): a token request may name the provider the
token is for, by `resource` (the provider's registered API base URL) or `audience` (its participantId).
The token's `aud` is then that participant's ID, so a provider that receives it cannot replay it to
another provider. Without either, the token keeps the shared audience (OCEN_TOKEN_AUDIENCE), which is
what the reference client expects.
"""

import uuid

from django.core.exceptions import ValidationError
from oauthlib.oauth2.rfc6749 import errors

from participants.models import Participant
from participants.validators import normalise_base_url


def bind(request) -> None:
    """Resolve the provider an (authenticated) token request names; `request.ocen_audience` is its
    participantId, or None for the shared audience. An unknown, inactive or ambiguous provider, or the
    caller itself, is refused with invalid_target."""
    resource, named = getattr(request, "resource", None), getattr(request, "audience", None)
    request.ocen_audience = None
    if resource is None and named is None:
        return
    target = _target(resource, named)
    if target is None or target.pk == request.client.participant.pk:
        raise errors.CustomOAuth2Error("invalid_target", request=request)  # its description: authapi.errors
    request.ocen_audience = str(target.pk)
    request.resource = [target.base_url]  # what django-oauth-toolkit stores on the token row


def _target(resource: str | None, named: str | None) -> Participant | None:
    candidates = Participant.objects.active()
    try:
        if named is not None:
            candidates = candidates.filter(pk=uuid.UUID(named))
        if resource is not None:
            candidates = candidates.filter(base_url=normalise_base_url(resource))
    except (ValueError, ValidationError):
        return None
    found = list(candidates.only("id", "base_url")[:2])
    return found[0] if len(found) == 1 else None
