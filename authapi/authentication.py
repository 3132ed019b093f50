import base64
import json
import uuid

from django.conf import settings
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

BEARER_CHALLENGE = 'Bearer error="invalid_token"'


def _unverified(token: str, index: int, name: str):
    """Member `name` of a JWT's header (index 0) or claims (1), unverified. Trustworthy only for a token the
    registry finds stored under its checksum: it is part of the exact string the registry issued and signed."""
    segments = token.split(".")
    segment = segments[index] if len(segments) > index else ""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return decoded.get(name) if isinstance(decoded, dict) else None


def token_kid(token: str) -> str | None:
    """The `kid` in a JWT's header, unverified (see _unverified)."""
    kid = _unverified(token, 0, "kid")
    return kid if isinstance(kid, str) else None


def subject_of(request) -> uuid.UUID | None:
    """The participant a registry read is about, when its view names one: the URL argument its
    `subject_kwarg` names (see RegistryView)."""
    context = getattr(request, "parser_context", None) or {}
    name = getattr(context.get("view"), "subject_kwarg", None)
    participant_id = context.get("kwargs", {}).get(name) if name else None
    try:
        return uuid.UUID(participant_id) if participant_id else None
    except ValueError:
        return None


class ParticipantTokenAuthentication(BaseAuthentication):
    """Bearer access token from the Authorization header (never the query string or body), valid only
    while it is stored (not revoked), unexpired, signed by a key the registry still publishes, and its
    participant may authenticate; so a suspension or a signing-key revocation holds on the next request."""

    def authenticate(self, request):
        from .compiled import caller_for_token

        scheme, _, token = get_authorization_header(request).decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 4096:
            return None
        caller = caller_for_token(token, kid=token_kid(token), subject_id=subject_of(request))
        # A token bound to a provider (authapi.audience) is for that provider: the registry API takes only
        # tokens with the shared audience, so a provider cannot replay a caller's token here.
        if caller is None or _unverified(token, 1, "aud") != settings.OCEN_TOKEN_AUDIENCE:
            return None
        return (None, caller)

    def authenticate_header(self, request):
        return BEARER_CHALLENGE


class HasParticipantToken(BasePermission):
    """The request carries a valid access token of an approved, active participant."""

    def has_permission(self, request, view):
        return request.auth is not None
