"""
django-oauth-toolkit, configured for OCEN: the participant rule in its validator, JWT access tokens
from its token-generator hook, and an OAuthLibCore that reads bodies DRF has already parsed.

Three private methods of django-oauth-toolkit are overridden, and one is called directly, each for speed, each
pinned by tests/authapi/test_dot_contract.py so that an upgrade that changes what they rely on fails loudly:
OAuth2Validator's `_load_application` (every client authentication reads the client through the compiled
`may_authenticate` statement, never from memory) and `_create_access_token` (one INSERT that re-checks, in the
same statement, the client and the signing key); OAuthLibCore's `_extract_params` (the body DRF parsed, handed
on as pairs); and `_save_bearer_token`, called without the transaction `save_bearer_token` adds.
"""

import functools
import json
import time
import uuid

import jwt
from django.conf import settings
from django.db import IntegrityError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from participants.wire import wire_role

from . import assertions, audience, compiled, signing

Application = get_application_model()
AccessToken = get_access_token_model()


class RegistryOAuth2Validator(OAuth2Validator):
    """django-oauth-toolkit's validator, plus: the client must belong to a participant that may
    authenticate (`participants.models.may_authenticate`).

    Any other client fails authentication exactly like an unknown client or a wrong secret, so the
    answer never reveals which. The client is read with its participant in one compiled statement on
    every authentication (token, introspection, revocation alike); nothing about it is remembered
    between requests.
    """

    def authenticate_client(self, request, *args, **kwargs):
        """client_secret_basic and client_secret_post as django-oauth-toolkit does them, or private_key_jwt
        (`authapi.assertions`) when the request carries a client assertion."""
        assertion_type = getattr(request, "client_assertion_type", None)
        assertion = getattr(request, "client_assertion", None)
        if assertion_type is None and assertion is None:
            return super().authenticate_client(request, *args, **kwargs)
        return assertions.authenticate(request, assertion_type, assertion)

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        """django-oauth-toolkit's check, then the token's audience (RFC 8707): the provider the request
        names, by `resource` (its base URL) or `audience` (its participantId), once the caller is known."""
        if not super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs):
            return False
        audience.bind(request)
        return True

    def _load_application(self, client_id, request):
        cached = request.client
        if isinstance(cached, Application) and cached.client_id == client_id:
            return cached  # read earlier in this same request
        request.client = compiled.client_that_may_authenticate(client_id)
        return request.client

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        if request.grant_type != "client_credentials" or source_refresh_token is not None or token.get("id_token"):
            return super()._create_access_token(expires, request, token, source_refresh_token)
        kid = request.signing_kid  # set by signed_access_token, which made the token
        if not self._insert(request, token, kid, expires):
            active = signing.active_kid()  # did the signing key change since this process last looked?
            if active == kid:
                raise errors.InvalidClientError(request=request)  # secret rotated, participant suspended …
            # Another server rotated or revoked the key: sign again with the active one (oauthlib answers
            # with this same token dict, so the caller receives the re-signed token).
            token["access_token"] = resign(token["access_token"], active)
            if not self._insert(request, token, active, expires):
                raise errors.InvalidClientError(request=request)

    @staticmethod
    def _insert(request, token, kid, expires) -> bool:
        try:
            return compiled.insert_access_token(
                client=request.client,
                raw_token=token["access_token"],
                kid=kid,
                scope=token["scope"],
                expires=expires,
                resource=getattr(request, "resource", []),
            )
        except IntegrityError:  # the client was deleted (offboarded) while this grant was in flight
            return False

    def save_bearer_token(self, token, request, *args, **kwargs):
        # A client-credentials grant writes one row, which is atomic by itself: skip the outer
        # transaction (two round trips) that django-oauth-toolkit opens for refresh-token rotation.
        if request.grant_type == "client_credentials" and "refresh_token" not in token:
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)


def token_claims(request) -> dict:
    """The contract §4.2 claims of an access token for the authenticated client."""
    participant = request.client.participant
    now = int(time.time())
    return {
        "iss": settings.OCEN_ISSUER,
        "sub": str(participant.id),
        # The provider the request named (authapi.audience), else the shared audience.
        "aud": getattr(request, "ocen_audience", None) or settings.OCEN_TOKEN_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS,
        "jti": uuid.uuid4().hex,
        "azp": request.client.client_id,
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or []),
        "participantId": str(participant.id),
        "orgId": str(participant.organisation_id),
        "participantRole": wire_role(participant.role),
    }


def signed_access_token(request, refresh_token=False) -> str:
    """django-oauth-toolkit's ACCESS_TOKEN_GENERATOR: an RS256 JWT signed with the key this process
    last saw active (the token's INSERT checks that it still is, by `request.signing_kid`)."""
    request.signing_kid = signing.active_kid(fresh=False)
    return signing.sign(token_claims(request), request.signing_kid)


def resign(token: str, kid: str) -> str:
    """The same claims, signed with another key."""
    claims = json.loads(jwt.utils.base64url_decode(token.split(".")[1]))
    return signing.sign(claims, kid)


class ParsedBodyOAuthLibCore(OAuthLibCore):
    """OAuthLibCore fed with parameters the DRF view has already parsed and normalised.

    The view sets `request.oauth_params` (client credentials included, however they were sent);
    oauthlib receives them form-encoded, whatever the request's own content type was (form, JSON).
    """

    def _extract_params(self, request):
        # oauthlib takes the body as (name, value) pairs, so there is nothing to encode and decode
        # again; and the URI carries no parameters: RFC 6749 §2.3.1 keeps credentials out of it.
        return request.path, request.method, list(request.oauth_params.items()), self.extract_headers(request)

    def extract_headers(self, request):
        # Only what oauthlib reads. The credentials the view took from an Authorization: Basic header
        # are in the parameters (decoded once, by the view), so the header itself is not passed on.
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin := request.META.get("HTTP_ORIGIN"):
            headers["Origin"] = origin
        if request.is_secure():
            headers["X_DJANGO_OAUTH_TOOLKIT_SECURE"] = "1"
        return headers


@functools.cache
def oauthlib_core() -> ParsedBodyOAuthLibCore:
    """One core per process: oauthlib's server and the validator keep no per-request state."""
    return ParsedBodyOAuthLibCore()
