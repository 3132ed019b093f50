"""
django-oauth-toolkit, configured for OCEN: the participant rule in its validator, JWT access tokens
from its token-generator hook, and an OAuthLibCore that reads bodies DRF has already parsed.
"""

import functools
import hashlib
import time
import uuid

from django.conf import settings
from django.db import IntegrityError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from . import signing
from .lookups import active_client, forget_client, insert_access_token, remember_client, remembered_client

Application = get_application_model()
AccessToken = get_access_token_model()


def participant_of(application):
    """The participant owning an OAuth client, or None."""
    try:
        return application.participant
    except Application.participant.RelatedObjectDoesNotExist:
        return None


def may_authenticate(application) -> bool:
    """Only an approved, active participant's client may obtain or use tokens."""
    participant = participant_of(application)
    return participant is not None and participant.can_authenticate


# The columns introspection reads (wide joins cost more to compile and plan than to run).
PARTICIPANT_COLUMNS = ("id", "role", "organisation_id", "status", "review_status", "application_id")
TOKEN_COLUMNS = (
    "id", "expires", "scope", "resource", "user_id", "application_id", "token_checksum",
    "application__id", "application__client_id", *(f"application__participant__{c}" for c in PARTICIPANT_COLUMNS),
)  # fmt: skip


def find_access_token(token: str):
    """The stored access token (looked up by checksum: storage is hashed), with its participant."""
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return (
        AccessToken.objects.select_related("application__participant")
        .only(*TOKEN_COLUMNS)
        .filter(token_checksum=checksum)
        .first()
    )


class RegistryOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator, plus: the client must belong to an approved, active participant.

    Any other client fails authentication exactly like an unknown client or a wrong secret, so
    the answer never reveals which. Clients and tokens are loaded with their participant in one query,
    and a client this process authenticated before is not read again: the token insert re-checks its
    secret and its participant's state in the same statement, so a warm grant is one round trip.
    """

    def _load_application(self, client_id, request):
        cached = request.client
        if isinstance(cached, Application) and cached.client_id == client_id:
            return cached  # loaded earlier in this request
        request.client_remembered = False
        if client := remembered_client(client_id):
            request.client_remembered = True
        else:
            try:
                client = active_client(client_id)
            except ValueError:  # e.g. a NUL byte, which PostgreSQL refuses in text
                client = None
            if client is not None:
                remember_client(client)
        request.client = client
        return client

    def authenticate_client(self, request, *args, **kwargs):
        if super().authenticate_client(request, *args, **kwargs):
            return True
        if getattr(request, "client_remembered", False):
            # The remembered copy may predate a secret rotation: look once more in the database.
            forget_client(request.client.client_id)
            request.client = None
            return super().authenticate_client(request, *args, **kwargs)
        return False

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        if request.grant_type != "client_credentials" or source_refresh_token is not None or token.get("id_token"):
            return super()._create_access_token(expires, request, token, source_refresh_token)
        try:
            written = insert_access_token(
                client=request.client, raw_token=token["access_token"], scope=token["scope"], expires=expires,
                resource=getattr(request, "resource", []),
            )  # fmt: skip
        except IntegrityError:  # the client was deleted (offboarded) while this grant was in flight
            written = False
        if not written:  # secret rotated, participant suspended or offboarded since the client was read
            forget_client(request.client.client_id)
            raise errors.InvalidClientError(request=request)

    def save_bearer_token(self, token, request, *args, **kwargs):
        # A client-credentials grant writes one row, which is atomic by itself: skip the outer
        # transaction (two round trips) that django-oauth-toolkit opens for refresh-token rotation.
        if request.grant_type == "client_credentials" and "refresh_token" not in token:
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)


def signed_access_token(request, refresh_token=False) -> str:
    """The contract §4.2 access token: an RS256 JWT signed with the registry's active key."""
    participant = request.client.participant
    now = int(time.time())
    return signing.sign(
        {
            "iss": settings.OCEN_ISSUER,
            "sub": str(participant.id),
            "aud": settings.OCEN_TOKEN_AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
            "jti": uuid.uuid4().hex,
            "azp": request.client.client_id,
            "client_id": request.client.client_id,
            "scope": " ".join(request.scopes or []),
            "participantId": str(participant.id),
            "orgId": str(participant.organisation_id),
            "participantRole": participant.role,
        }
    )


class ParsedBodyOAuthLibCore(OAuthLibCore):
    """OAuthLibCore fed with parameters the DRF view has already parsed and normalised.

    The view sets `request.oauth_params`; oauthlib receives them form-encoded, whatever the
    request's own content type was (form, JSON).
    """

    def _extract_params(self, request):
        # oauthlib takes the body as (name, value) pairs, so there is nothing to encode and decode
        # again; and the URI carries no parameters: RFC 6749 §2.3.1 keeps credentials out of it.
        return request.path, request.method, list(request.oauth_params.items()), self.extract_headers(request)

    def extract_headers(self, request):
        # The headers oauthlib and the validator read, not a copy of every WSGI variable (which
        # oauthlib would then convert and case-fold one by one on every grant).
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization := request.META.get("HTTP_AUTHORIZATION"):
            headers["Authorization"] = headers["HTTP_AUTHORIZATION"] = authorization
        if origin := request.META.get("HTTP_ORIGIN"):
            headers["Origin"] = origin
        if request.is_secure():
            headers["X_DJANGO_OAUTH_TOOLKIT_SECURE"] = "1"
        return headers


@functools.cache
def oauthlib_core() -> ParsedBodyOAuthLibCore:
    """One core per process: oauthlib's server and the validator keep no per-request state."""
    return ParsedBodyOAuthLibCore()
