import uuid

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

BEARER_CHALLENGE = 'Bearer error="invalid_token"'


def subject_of(request) -> uuid.UUID | None:
    """The participant a registry read is about (its URL's participant_id), when there is one."""
    participant_id = (getattr(request, "parser_context", None) or {}).get("kwargs", {}).get("participant_id")
    try:
        return uuid.UUID(participant_id) if participant_id else None
    except ValueError:
        return None


class ParticipantTokenAuthentication(BaseAuthentication):
    """Bearer access token from the Authorization header (never the query string or body), valid only
    while it is stored (not revoked), unexpired, and its participant is approved and active; so a
    suspended participant's unexpired token fails at once."""

    def authenticate(self, request):
        from .lookups import caller_for_token

        scheme, _, token = get_authorization_header(request).decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
            return None
        caller = caller_for_token(token.strip(), subject_of(request))
        return (None, caller) if caller else None

    def authenticate_header(self, request):
        return BEARER_CHALLENGE


class HasParticipantToken(BasePermission):
    """The request carries a valid access token of an approved, active participant."""

    def has_permission(self, request, view):
        return request.auth is not None
