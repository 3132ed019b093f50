"""The OAuth endpoints (contract §4.1, §4.4): token, introspection and revocation, on django-oauth-toolkit."""

import base64
import json
from urllib.parse import unquote_plus

from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from .. import assertions, compiled, schemas, signing
from ..abuse import ClientAuthenticationThrottle
from ..authentication import token_kid
from ..errors import NO_STORE, OAUTH_DESCRIPTIONS, oauth_error_response
from ..oauth import oauthlib_core
from ..parsers import StrictJSONParser
from .base import JSONOnly


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None):
        self.error, self.status = error, status
        self.description = description or OAUTH_DESCRIPTIONS.get(error, error)


ALIASES = {"clientId": "client_id", "clientSecret": "client_secret", "grantType": "grant_type"}
# The parameters a client authenticates with: a secret (client_secret_post) or an assertion (private_key_jwt).
CLIENT_AUTHENTICATION = ("client_id", "client_secret", "client_assertion", "client_assertion_type")
MIXED_CREDENTIALS = (
    "Send the client credentials once: in the Authorization header, or in the body as a secret or as a client "
    "assertion, never two of them (RFC 6749 §2.3)."
)

MAX_OAUTH_BODY = 8 * 1024


def short_string(name: str, value) -> str:
    """An OAuth parameter: a string of at most 2048 characters without NUL (a client assertion: up to the
    body's limit, for large keys and kids); a JSON body's strings are UTF-8 text already (StrictJSONParser)."""
    limit = MAX_OAUTH_BODY if name == "client_assertion" else 2048
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise OAuthError("invalid_request", description=f"{name} must be a short string.")
    return value


def basic_credentials(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1 client_secret_basic: the client ID and secret, each form-urlencoded, joined by a
    colon, base64-encoded; None when the Authorization header is not Basic. django-oauth-toolkit reads
    the same header the same way (tests/authapi/test_dot_contract.py): this is the one place it is read."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, separator, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client", status=401) from None
    if not separator:
        raise OAuthError("invalid_client", status=401)
    return unquote_plus(client_id), unquote_plus(secret)


class OAuthEndpoint(APIView):
    """Base of the OAuth endpoints: form or JSON bodies, RFC 6749 §5.2 errors for anything malformed,
    client credentials read once (Basic or body, never both) and client authentication throttled."""

    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, StrictJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly
    allowed_fields: frozenset = frozenset()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise OAuthError("invalid_request", description="Invalid Content-Length.") from None
        if length > MAX_OAUTH_BODY:
            raise OAuthError("invalid_request", description=f"The request body is larger than {MAX_OAUTH_BODY} bytes.")
        request.oauth_params = self.parameters(request.data)
        self.take_credentials(request, request.oauth_params)

    def parameters(self, data) -> dict:
        if not hasattr(data, "items"):
            raise OAuthError("invalid_request", description="The body must be a form or a JSON object.")
        params = {}
        for name, value in data.items():
            name = ALIASES.get(name, name)
            if name in self.allowed_fields:
                params[name] = short_string(name, value)
        return params

    @staticmethod
    def take_credentials(request, params: dict) -> None:
        """Move HTTP Basic credentials into the parameters, so that what is throttled is exactly what
        django-oauth-toolkit authenticates; refuse a request that sends credentials both ways."""
        credentials = basic_credentials(request.META.get("HTTP_AUTHORIZATION", ""))
        if "client_assertion" in params or "client_assertion_type" in params:
            if credentials is not None or "client_secret" in params:
                raise OAuthError("invalid_request", description=MIXED_CREDENTIALS)
            # private_key_jwt: the client is the assertion's subject unless client_id names it (RFC 7523 §3).
            if "client_id" not in params and (subject := assertions.client_id_of(params.get("client_assertion", ""))):
                params["client_id"] = short_string("client_id", subject)
            return
        if credentials is None:
            return
        client_id, secret = short_string("client_id", credentials[0]), short_string("client_secret", credentials[1])
        if "client_secret" in params or params.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", description=MIXED_CREDENTIALS)
        params["client_id"], params["client_secret"] = client_id, secret

    def throttled(self, request) -> ClientAuthenticationThrottle:
        """The failure throttle for this request's source and client ID."""
        return ClientAuthenticationThrottle(request, request.oauth_params.get("client_id"))

    def handle_exception(self, exc):
        if isinstance(exc, Throttled429):
            response = oauth_error_response("temporarily_unavailable", 429, THROTTLED_DESCRIPTION)
            response["Retry-After"] = str(exc.wait)
            return response
        if isinstance(exc, OAuthError):
            return oauth_error_response(exc.error, exc.status, exc.description)
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return oauth_error_response(
                "invalid_request", 400, "Send application/x-www-form-urlencoded (or application/json)."
            )
        if isinstance(exc, exceptions.ParseError):
            return oauth_error_response("invalid_request", 400, "The request body could not be parsed.")
        if isinstance(exc, exceptions.MethodNotAllowed):
            return oauth_error_response("invalid_request", 405, "Use POST.")
        if isinstance(exc, signing.NoSigningKey):
            return oauth_error_response("temporarily_unavailable", 503)
        return super().handle_exception(exc)

    def oauth_response(self, headers, body, status) -> HttpResponse:
        if status >= 400:
            try:
                error = json.loads(body).get("error", "invalid_request")
            except ValueError:
                error = "invalid_request"
            # One body per error code, whatever oauthlib said: an invalid_client never reveals why.
            return oauth_error_response(error, status)
        return HttpResponse(body or b"", status=status, content_type="application/json", headers=NO_STORE)

    def authenticated(self, throttle, status: int) -> None:
        """Count the outcome of a client authentication: a failure (401) past a limit is answered 429."""
        if status == 401:
            if wait := throttle.failed():
                raise Throttled429(wait)
        elif status < 400:
            throttle.succeeded()


THROTTLED_DESCRIPTION = "Too many failed client authentications from this address; retry later."


class Throttled429(Exception):
    def __init__(self, wait: int):
        self.wait = wait


class TokenView(OAuthEndpoint):
    """GenerateAccessToken (contract §4.1): client credentials, via django-oauth-toolkit."""

    allowed_fields = frozenset({"grant_type", "scope", "resource", "audience", *CLIENT_AUTHENTICATION})

    def parameters(self, data) -> dict:
        params = super().parameters(data)
        # One audience per token: a repeated resource or audience (RFC 8707 allows several) is refused.
        if hasattr(data, "getlist") and any(len(data.getlist(name)) > 1 for name in ("resource", "audience")):
            raise OAuthError("invalid_target")
        params.setdefault("grant_type", "client_credentials")
        if params["grant_type"] != "client_credentials":
            raise OAuthError("unsupported_grant_type")
        # `openid` (what clients set up for Keycloak often send) and an empty scope ask for nothing more than
        # the default: the token's scope stays `ocen`. Anything else is django-oauth-toolkit's to judge.
        if "scope" in params:
            asked = [scope for scope in params.pop("scope").split() if scope != "openid"]
            if asked:
                params["scope"] = " ".join(asked)
        return params

    @extend_schema(
        operation_id="GenerateAccessToken",
        tags=["auth"],
        auth=[{"clientSecretBasic": []}, {}],
        request={
            "application/x-www-form-urlencoded": schemas.TokenRequest,
            "application/json": schemas.TokenRequestJson,
        },
        responses={
            200: schemas.TokenResponse,
            400: OpenApiResponse(
                schemas.OAuthErrorSerializer, description="invalid_request, unsupported_grant_type, invalid_target"
            ),
            401: OpenApiResponse(schemas.OAuthErrorSerializer, description="invalid_client"),
            429: OpenApiResponse(
                schemas.OAuthErrorSerializer, description="too many failures from this address (Retry-After)"
            ),
            503: OpenApiResponse(schemas.OAuthErrorSerializer, description="temporarily_unavailable"),
        },
    )
    def post(self, request):
        throttle = self.throttled(request)
        _uri, headers, body, status = oauthlib_core().create_token_response(request)
        self.authenticated(throttle, status)
        return self.oauth_response(headers, body, status)


class RevokeView(OAuthEndpoint):
    """RFC 7009: a participant revokes one of its own tokens; other clients' tokens are left alone."""

    allowed_fields = frozenset({"token", "token_type_hint", *CLIENT_AUTHENTICATION})

    @extend_schema(
        operation_id="RevokeToken",
        tags=["auth"],
        auth=[{"clientSecretBasic": []}, {}],
        request={"application/x-www-form-urlencoded": schemas.RevokeRequest},
        responses={
            200: OpenApiResponse(description="Revoked (or not the caller's: no effect)."),
            401: schemas.OAuthErrorSerializer,
            400: schemas.OAuthErrorSerializer,
            429: schemas.OAuthErrorSerializer,
            503: schemas.OAuthErrorSerializer,
        },
    )
    def post(self, request):
        if "token" not in request.oauth_params:
            raise OAuthError("invalid_request", description="token is required.")
        throttle = self.throttled(request)
        _uri, headers, body, status = oauthlib_core().create_revocation_response(request)
        self.authenticated(throttle, status)
        return self.oauth_response(headers, body, status)


class IntrospectView(OAuthEndpoint):
    """RFC 7662 for participants: the caller authenticates with its client credentials."""

    allowed_fields = frozenset({"token", "token_type_hint", *CLIENT_AUTHENTICATION})

    @extend_schema(
        operation_id="IntrospectToken",
        tags=["auth"],
        auth=[{"clientSecretBasic": []}, {}],
        request={"application/x-www-form-urlencoded": schemas.IntrospectRequest},
        responses={
            200: schemas.IntrospectionResponse,
            401: schemas.OAuthErrorSerializer,
            400: schemas.OAuthErrorSerializer,
            429: schemas.OAuthErrorSerializer,
            503: schemas.OAuthErrorSerializer,
        },
    )
    def post(self, request):
        throttle = self.throttled(request)
        authenticated = oauthlib_core().authenticate_client(request)
        self.authenticated(throttle, 200 if authenticated else 401)
        if not authenticated:
            raise OAuthError("invalid_client", status=401)
        token = request.oauth_params.get("token")
        if not token:
            raise OAuthError("invalid_request", description="token is required.")
        return JsonResponse(introspect(token), headers=NO_STORE)


def introspect(token: str) -> dict:
    """Active only if issued here, not revoked or expired, signed by a key the registry still publishes,
    and its participant may still authenticate: the bearer check of the registry API, then the claims."""
    if compiled.caller_for_token(token, kid=token_kid(token)) is None:
        return {"active": False}
    claims = signing.verified_claims(token)
    if claims is None:
        return {"active": False}
    return {
        "active": True,
        **{name: claims[name] for name in INTROSPECTED_CLAIMS},
        "token_type": "Bearer",
    }


INTROSPECTED_CLAIMS = (
    "sub",
    "client_id",
    "participantId",
    "orgId",
    "participantRole",
    "scope",
    "exp",
    "iat",
    "iss",
    "aud",
)
