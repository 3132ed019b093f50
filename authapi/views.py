"""The participant-facing HTTP surface: OAuth endpoints (§4) and registry reads (§5)."""

import base64
import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ocen_sdk import diagnose
from participants.models import (
    NetworkMembership,
    OperationalStatus,
    Participant,
    ParticipantKey,
    Product,
    ProductNetwork,
    Role,
    may_authenticate,
)
from participants.wire import publication

from . import compiled, schemas, signing
from .abuse import ClientAuthenticationThrottle, ParticipantRateThrottle
from .authentication import ParticipantTokenAuthentication, token_kid
from .errors import OAUTH_DESCRIPTIONS
from .middleware import SIGNATURE_HEADER
from .oauth import oauthlib_core
from .parsers import StrictJSONParser
from .representations import (
    encode,
    etag_of,
    fresh_until,
    jwks_document,
    network_document,
    network_participants_document,
    participant_document,
    product_document,
)

MAX_OAUTH_BODY = 8 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# --- OAuth endpoints ------------------------------------------------------------------------------


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None):
        self.error, self.status = error, status
        self.description = description or OAUTH_DESCRIPTIONS.get(error, error)


def oauth_error_response(error: str, status: int, description: str | None = None) -> JsonResponse:
    body = {"error": error, "error_description": description or OAUTH_DESCRIPTIONS.get(error, error)}
    response = JsonResponse(body, status=status, headers=NO_STORE)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="ocen-registry", error="invalid_client"'
    return response


ALIASES = {"clientId": "client_id", "clientSecret": "client_secret", "grantType": "grant_type"}
MIXED_CREDENTIALS = (
    "Send the client credentials once: in the Authorization header or in the body, not both (RFC 6749 §2.3)."
)


class JSONOnly(BaseContentNegotiation):
    """The API answers JSON whatever the Accept header says (RFC 6749 §5.1, contract §5), without
    negotiating on every request."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def short_string(name: str, value) -> str:
    """An OAuth parameter: a string of at most 2048 characters without NUL (a JSON body's strings are
    UTF-8 text already: StrictJSONParser)."""
    if not isinstance(value, str) or len(value) > 2048 or "\x00" in value:
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

    allowed_fields = frozenset({"grant_type", "client_id", "client_secret", "scope"})

    def parameters(self, data) -> dict:
        params = super().parameters(data)
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
            400: OpenApiResponse(schemas.OAuthErrorSerializer, description="invalid_request, unsupported_grant_type"),
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

    allowed_fields = frozenset({"token", "token_type_hint", "client_id", "client_secret"})

    @extend_schema(
        operation_id="RevokeToken",
        tags=["auth"],
        auth=[{"clientSecretBasic": []}, {}],
        request={"application/x-www-form-urlencoded": schemas.RevokeRequest},
        responses={200: OpenApiResponse(description="Revoked (or not the caller's: no effect)."),
                   401: schemas.OAuthErrorSerializer, 400: schemas.OAuthErrorSerializer,
                   429: schemas.OAuthErrorSerializer, 503: schemas.OAuthErrorSerializer},
    )  # fmt: skip
    def post(self, request):
        if "token" not in request.oauth_params:
            raise OAuthError("invalid_request", description="token is required.")
        throttle = self.throttled(request)
        _uri, headers, body, status = oauthlib_core().create_revocation_response(request)
        self.authenticated(throttle, status)
        return self.oauth_response(headers, body, status)


class IntrospectView(OAuthEndpoint):
    """RFC 7662 for participants: the caller authenticates with its client credentials."""

    allowed_fields = frozenset({"token", "token_type_hint", "client_id", "client_secret"})

    @extend_schema(
        operation_id="IntrospectToken",
        tags=["auth"],
        auth=[{"clientSecretBasic": []}, {}],
        request={"application/x-www-form-urlencoded": schemas.IntrospectRequest},
        responses={200: schemas.IntrospectionResponse, 401: schemas.OAuthErrorSerializer,
                   400: schemas.OAuthErrorSerializer, 429: schemas.OAuthErrorSerializer,
                   503: schemas.OAuthErrorSerializer},
    )  # fmt: skip
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


INTROSPECTED_CLAIMS = ("sub", "client_id", "participantId", "orgId", "participantRole", "scope", "exp", "iat",
                       "iss", "aud")  # fmt: skip


# --- Keys and discovery ------------------------------------------------------------------------------


class PublicView(APIView):
    """Keys and discovery: public, cacheable for OCEN_REGISTRY_MAX_AGE, the longest a provider may go on
    trusting a signing key the registry has withdrawn (the toolkit refetches when its copy is older)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200:
            response["Cache-Control"] = f"public, max-age={settings.OCEN_REGISTRY_MAX_AGE}"
        return response


class JWKSView(PublicView):
    """GetCertificate: the registry's token-signing keys (active and retired-but-needed)."""

    @extend_schema(
        operation_id="GetCertificate", tags=["auth"], auth=[], responses={200: schemas.JWKS, 503: schemas.RegistryError}
    )
    def get(self, request):
        return JsonResponse(signing.published_jwks())


class DiscoveryView(PublicView):
    """OpenID / RFC 8414 authorization-server metadata for the issuer."""

    @extend_schema(
        operation_id="GetDiscovery",
        tags=["auth"],
        auth=[],
        responses={200: schemas.Discovery, 503: schemas.RegistryError},
    )
    def get(self, request):
        return JsonResponse(discovery_document())


class WellKnownJWKSView(JWKSView):
    """The same JWKS at the conventional /.well-known/jwks.json."""

    @extend_schema(
        operation_id="GetJWKS", tags=["auth"], auth=[], responses={200: schemas.JWKS, 503: schemas.RegistryError}
    )
    def get(self, request):
        return super().get(request)


class AuthorizationServerMetadataView(DiscoveryView):
    """The same metadata at the RFC 8414 location for the issuer."""

    @extend_schema(
        operation_id="GetAuthorizationServerMetadata",
        tags=["auth"],
        auth=[],
        responses={200: schemas.Discovery, 503: schemas.RegistryError},
    )
    def get(self, request):
        return super().get(request)


# Keycloak's paths under the issuer for the same endpoints (name: path below the issuer).
KEYCLOAK_ALIASES = {
    "token": "protocol/openid-connect/token",
    "certs": "protocol/openid-connect/certs",
    "introspect": "protocol/openid-connect/token/introspect",
    "revoke": "protocol/openid-connect/revoke",
}


def alias_of(name: str):
    """The view behind an endpoint, served at its Keycloak path, and left out of the OpenAPI document."""
    view = {"token": TokenView, "certs": JWKSView, "introspect": IntrospectView, "revoke": RevokeView}[name]
    return extend_schema(exclude=True)(type(f"Keycloak{view.__name__}", (view,), {})).as_view()


def discovery_document() -> dict:
    issuer = settings.OCEN_ISSUER
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/certs",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["ocen"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope",
                             "participantId", "orgId", "participantRole"],
        # Not RFC 8414: the same endpoints where a client set up for a Keycloak-hosted registry looks for them.
        "keycloak_endpoint_aliases": {
            metadata: f"{issuer}/{KEYCLOAK_ALIASES[name]}"
            for name, metadata in (("token", "token_endpoint"), ("certs", "jwks_uri"),
                                   ("introspect", "introspection_endpoint"), ("revoke", "revocation_endpoint"))
        },
    }  # fmt: skip


# --- Registry reads ---------------------------------------------------------------------------------------


class RegistryView(APIView):
    """Registry API base: bearer token of an approved, active participant; §5 errors."""

    authentication_classes = [ParticipantTokenAuthentication]
    throttle_classes = [ParticipantRateThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly

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


def participant_queryset():
    return Participant.objects.select_related("organisation").prefetch_related(
        Prefetch("keys", queryset=ParticipantKey.objects.order_by("-created_at"))
    )


def parse_participant_id(participant_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(participant_id)
    except ValueError:
        raise exceptions.NotFound(f"No participant with id {participant_id!r}.") from None


def participant_with_keys(pk: uuid.UUID) -> tuple[Participant, list[ParticipantKey]]:
    """A participant with its organisation and its keys, newest first, in one query."""
    keys = list(
        ParticipantKey.objects.select_related("participant__organisation")
        .filter(participant_id=pk)
        .order_by("-created_at")
    )
    if keys:
        return keys[0].participant, keys
    return Participant.objects.select_related("organisation").get(pk=pk), keys


# Renderings of participants' published documents, with the registry's signature, in this process:
# (kind, participant id, change stamp, signing kid) -> (monotonic expiry, (body, ETag, signature)).
# The stamp and the active kid are read from the database with the bearer check on every request, and
# a new one of either is a new key, so an entry is never stale. Bounded: cleared when full.
_renderings: dict[tuple, tuple[float, tuple[bytes, str, str]]] = {}
RENDERINGS_MAX = 4096


def forget_renderings() -> None:
    _renderings.clear()


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
    key, now = (kind, pk, stamp, kid), time.monotonic()
    entry = _renderings.get(key)
    if entry is None or entry[0] < now or (entry[1][3] and entry[1][3] <= timezone.now()):
        participant, keys = participant_with_keys(pk)
        body = encode(render(participant, keys))
        rendering = (body, etag_of(body), signing.sign_detached(body, kid), fresh_until([(participant, keys)]))
        entry = (now + settings.OCEN_REGISTRY_MAX_AGE, rendering)
        if len(_renderings) >= RENDERINGS_MAX:
            _renderings.clear()
        _renderings[key] = entry
    return entry[1]


class ParticipantDetailView(RegistryView):
    """GetParticipantDetails (contract §5.1)."""

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


def visible_network(request, network_id: str) -> ProductNetwork:
    """A network the caller may see: 404, not 403, for private products outside its reach."""
    try:
        pk = uuid.UUID(network_id)
        return ProductNetwork.objects.visible_to(request.auth.participant_id).select_related("product").get(pk=pk)
    except (ValueError, ProductNetwork.DoesNotExist):
        raise exceptions.NotFound(f"No product network with id {network_id!r}.") from None


class ProductDetailView(RegistryView):
    """A credit product (contract §5.2)."""

    @extend_schema(
        operation_id="GetProduct",
        tags=["products"],
        responses={
            200: schemas.ProductEnvelope,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, product_id):
        try:
            product = Product.objects.visible_to(request.auth.participant_id).get(pk=uuid.UUID(product_id))
        except (ValueError, Product.DoesNotExist):
            raise exceptions.NotFound(f"No product with id {product_id!r}.") from None
        return self.respond(request, product_document(product))


class ProductNetworkDetailView(RegistryView):
    """A product network with its product and how many current, active members it lists."""

    @extend_schema(
        operation_id="GetProductNetwork",
        tags=["products"],
        responses={
            200: schemas.ProductNetworkDocument,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, network_id):
        network = visible_network(request, network_id)
        return self.respond(request, network_document(network, listed_memberships(network).count()))


def listed_memberships(network: ProductNetwork):
    """Current memberships of approved, active participants; none while the product is withdrawn."""
    if network.product.is_withdrawn:
        return NetworkMembership.objects.none()
    return network.memberships.current().filter(may_authenticate("participant__"))


class ProductNetworkParticipantsView(RegistryView):
    """The network's participants keyed by role, each with its §5.1 record (baseUrl, publicKey …)."""

    @extend_schema(
        operation_id="GetProductNetworkParticipants",
        tags=["products"],
        responses={
            200: schemas.NetworkParticipants,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, network_id):
        network = visible_network(request, network_id)
        memberships = (
            listed_memberships(network)
            .select_related("participant__organisation")
            .prefetch_related(Prefetch("participant__keys", queryset=ParticipantKey.objects.order_by("-created_at")))
            .order_by("role", "added_at")
        )
        return self.respond(
            request,
            network_participants_document(memberships),
            fresh_until([(m.participant, list(m.participant.keys.all())) for m in memberships]),
        )


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
            participant, keys = participant_with_keys(parse_participant_id(str(participant_id)))
        except Participant.DoesNotExist:
            raise exceptions.NotFound(f"No participant with id {participant_id!r}.") from None
        published = publication(participant, keys).items  # as verifiers see them
        return JsonResponse(diagnose(body.encode("utf-8"), signature, published).as_json())


MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class SyncCursor:
    """Where a walk of the participant list stands: just after the row (updated_at, id) — or at its start
    — with the walk's filters. Opaque to participants (base64url of JSON). A walk keyed on (updated_at, id)
    sees every row changed after it started, however the rows change meanwhile, where page numbers skip."""

    after: tuple[dt.datetime, uuid.UUID] | None
    role: str | None
    status: str | None
    since: dt.datetime | None
    page: int

    def encode(self) -> str:
        after = [self.after[0].isoformat(), str(self.after[1])] if self.after else None
        document = {"after": after, "role": self.role, "status": self.status,
                    "since": self.since.isoformat() if self.since else None, "page": self.page}  # fmt: skip
        return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, raw: str) -> "SyncCursor":
        try:
            document = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            after, since, page = document["after"], document["since"], document["page"]
            cursor = cls(
                after=(_aware(after[0]), uuid.UUID(after[1])) if after is not None else None,
                role=document["role"], status=document["status"], since=_aware(since) if since else None, page=page,
            )  # fmt: skip
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, RecursionError):
            cursor = None
        if (
            cursor is None
            or type(cursor.page) is not int
            or not 0 <= cursor.page <= MAX_PAGE
            or cursor.role not in (None, *Role.values)
            or cursor.status not in (None, *OperationalStatus.values)
        ):
            raise exceptions.ValidationError({"cursor": "is not a cursor this registry issued (use nextCursor as is)."})
        return cursor


def _aware(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a cursor's times carry their zone")
    return moment


SETTLE = dt.timedelta(seconds=1)  # clock skew between the application servers and the database


def settled_before() -> dt.datetime | None:
    """The latest updatedOn a walk may pass, or None when it may pass any. A change is stamped when it is
    made but visible only once it commits, so while another transaction is open a walk stops short of
    its start (less a second for clock skew): that transaction may still commit an earlier stamp. With
    none open, every stamp there is, is visible. The SQLite quickstart (one writer at a time) has none."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        (oldest,) = cursor.fetchone()
    return oldest - SETTLE if oldest else None


class ParticipantListView(RegistryView):
    """Paged participant list for incremental sync, in stable (updatedOn, id) order; `nextCursor`
    continues a walk that cannot skip a row, `page` is kept for browsing."""

    @extend_schema(
        operation_id="ListParticipants",
        tags=["registry"],
        parameters=[
            OpenApiParameter("role", str, enum=Role.values, description="Only this role."),
            OpenApiParameter("status", str, enum=OperationalStatus.values, description="Only this status."),
            OpenApiParameter(
                "updatedSince",
                {"type": "string", "format": "date-time"},
                description="RFC 3339 time: only records updated at or after it.",
            ),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
                description="Zero-based page (default 0). Pages can skip a row that changes during a walk: "
                "to sync, follow nextCursor instead.",
            ),
            OpenApiParameter(
                "size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"Page size, 1 to {MAX_PAGE_SIZE} (default 20).",
            ),
            OpenApiParameter(
                "cursor",
                str,
                description="The previous page's nextCursor: the next page of the same walk (it carries the "
                "walk's filters; send it alone, or with size).",
            ),
        ],
        responses={
            200: schemas.ParticipantPage,
            400: schemas.RegistryError,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request):
        params = request.query_params
        size = parse_int(params.get("size", "20"), "size", 1, MAX_PAGE_SIZE)
        cursor = self.cursor(params)
        if cursor is None:
            role = self.role(params.get("role"))
            status = self.status(params.get("status"))
            since = parse_instant(params["updatedSince"], "updatedSince") if "updatedSince" in params else None
            page = parse_int(params.get("page", "0"), "page", 0, MAX_PAGE)
        else:
            role, status, since, page = cursor.role, cursor.status, cursor.since, cursor.page
        queryset = Participant.objects.order_by("updated_at", "id")
        if role:
            queryset = queryset.filter(role=role)
        if status:
            queryset = queryset.filter(status=status)
        if since:
            queryset = queryset.filter(updated_at__gte=since)
        # Counting and paging read the (updated_at, id) index alone; only the page's rows are fetched.
        total = queryset.count()
        if cursor is None:
            window = queryset[page * size : (page + 1) * size + 1]
        elif cursor.after:
            moment, pk = cursor.after
            window = queryset.filter(Q(updated_at__gt=moment) | Q(updated_at=moment, id__gt=pk))[: size + 1]
        else:
            window = queryset[: size + 1]
        positions = list(window.values_list("updated_at", "id")) if total else []
        # A walk (a cursor, or a first page with no page number) never passes a change still committing.
        walking = cursor is not None or "page" not in params
        horizon = settled_before() if positions and walking else None
        settled = [p for p in positions if horizon is None or p[0] < horizon]
        more = len(positions) > size or len(settled) < len(positions)
        positions = settled[:size]
        rows = participant_queryset().in_bulk([pk for _, pk in positions])
        switch_at = fresh_until([(p, list(p.keys.all())) for p in rows.values()])
        after = positions[-1] if positions else cursor.after if cursor else None
        next_cursor = SyncCursor(after, role, status, since, min(page + 1, MAX_PAGE)).encode() if more else None
        return self.respond(
            request,
            {
                "content": [participant_document(rows[pk]) for _, pk in positions],
                "number": page,
                "size": size,
                "totalElements": total,
                "totalPages": (total + size - 1) // size,
                "nextCursor": next_cursor,
            },
            switch_at,
        )

    @staticmethod
    def cursor(params) -> SyncCursor | None:
        if "cursor" not in params:
            return None
        if set(params) - {"cursor", "size"}:
            raise exceptions.ValidationError(
                {"cursor": "carries its walk's filters and position: send it alone, or with size."}
            )
        return SyncCursor.decode(params["cursor"])

    @staticmethod
    def role(raw: str | None) -> str | None:
        if raw is None:
            return None
        try:
            return Role.parse(raw)
        except ValueError:
            raise exceptions.ValidationError({"role": f"Unknown role {raw!r}."}) from None

    @staticmethod
    def status(raw: str | None) -> str | None:
        if raw is not None and raw not in OperationalStatus.values:
            raise exceptions.ValidationError({"status": f"Unknown status {raw!r}."})
        return raw


def parse_int(raw: str, name: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: "must be a whole number."}) from None
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: f"must be between {minimum} and {maximum}."})
    return value


def parse_instant(raw: str, name: str) -> dt.datetime:
    try:
        moment = parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError({name: "must be an RFC 3339 date-time with a time zone."})
    return moment
