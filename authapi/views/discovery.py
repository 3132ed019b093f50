"""The registry's signing keys and its authorization-server metadata (contract §4.3), at the issuer
and at Keycloak's paths."""

from django.conf import settings
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .. import assertions, schemas, signing
from ..paths import oauth_metadata
from .auth import IntrospectView, RevokeView, TokenView


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
    """GetCertificate: the registry's token-signing keys: the next one (published OCEN_REGISTRY_MAX_AGE before it
    signs, so that no copy a verifier caches for that long misses it), the active one, and retired ones whose tokens
    may still be unexpired."""

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


def alias_of(name: str):
    """The view behind an endpoint, served at its Keycloak path, and left out of the OpenAPI document."""
    view = {"token": TokenView, "certs": JWKSView, "introspect": IntrospectView, "revoke": RevokeView}[name]
    return extend_schema(exclude=True)(type(f"Keycloak{view.__name__}", (view,), {})).as_view()


# The claims of an access token (contract §4.2).
CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope"]
OCEN_CLAIMS = ["participantId", "orgId", "participantRole"]


def discovery_document() -> dict:
    issuer = settings.OCEN_ISSUER
    client_auth = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    assertion_algs = assertions.signing_algorithms()
    return {
        "issuer": issuer,
        **oauth_metadata(issuer),
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint, so no response types; the member is REQUIRED by RFC 8414 and OpenID
        # Discovery, so it is present and empty.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "scopes_supported": ["ocen"],
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        # REQUIRED by OpenID Discovery (Spring and Nimbus refuse a document without it). No ID token is
        # issued; RS256 is what every token the registry signs uses, so no client is told of another.
        "id_token_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": CLAIMS + OCEN_CLAIMS,
        # Not RFC 8414: the same endpoints where a client set up for a Keycloak-hosted registry looks for them.
        "keycloak_endpoint_aliases": oauth_metadata(issuer, keycloak=True),
    }
