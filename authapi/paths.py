"""
Where the API lives, stated once. ocen_registry/urls.py mounts the views at these paths; error handling,
outage answers and response signing recognise API requests by them.
"""

from django.conf import settings

REGISTRY = "service/"  # the registry API (contract §5)
SCHEMA = "api/"  # the OpenAPI document and its browsable docs
WELL_KNOWN = ".well-known/"  # JWKS and RFC 8414 metadata at the host's root
# The OAuth endpoints below the issuer (name: their RFC 8414 metadata member).
OAUTH_ENDPOINTS = {
    "token": "token_endpoint",
    "certs": "jwks_uri",
    "introspect": "introspection_endpoint",
    "revoke": "revocation_endpoint",
}
# Keycloak's paths below the issuer for the same endpoints (name: path below the issuer).
KEYCLOAK_ALIASES = {
    "token": "protocol/openid-connect/token",
    "certs": "protocol/openid-connect/certs",
    "introspect": "protocol/openid-connect/token/introspect",
    "revoke": "protocol/openid-connect/revoke",
}


def issuer_prefix() -> str:
    """The OAuth endpoints' mount point: the issuer's path (OCEN_ISSUER; default "auth/"), or "" at the root."""
    return f"{settings.OCEN_ISSUER_PATH}/" if settings.OCEN_ISSUER_PATH else ""


def oauth_prefixes() -> tuple[str, ...]:
    """Path prefixes of the OAuth endpoints: the issuer's path, or each endpoint when the issuer is the root."""
    if settings.OCEN_ISSUER_PATH:
        return (f"/{issuer_prefix()}",)
    keycloak_roots = {alias.split("/")[0] for alias in KEYCLOAK_ALIASES.values()}
    return (*(f"/{name}" for name in OAUTH_ENDPOINTS), *(f"/{root}/" for root in sorted(keycloak_roots)))


def oauth_metadata(issuer: str, *, keycloak: bool = False) -> dict[str, str]:
    """RFC 8414 members naming each OAuth endpoint's URL below `issuer` (or its Keycloak alias)."""
    return {
        member: f"{issuer}/{KEYCLOAK_ALIASES[name] if keycloak else name}" for name, member in OAUTH_ENDPOINTS.items()
    }


def is_registry_path(path: str) -> bool:
    return f"{path}/".startswith(f"/{REGISTRY}")


def is_api_path(path: str) -> bool:
    """Paths whose answers are JSON in the API's shapes: the registry, discovery and OpenAPI, and the
    OAuth endpoints at the issuer's path; each prefix without its slash ("/service") too."""
    return f"{path}/".startswith((f"/{REGISTRY}", f"/{WELL_KNOWN}", f"/{SCHEMA}", *oauth_prefixes()))


def is_token_path(path: str) -> bool:
    """The token endpoint, at the issuer or at its Keycloak alias (a trailing slash included)."""
    return path.rstrip("/") in (f"/{issuer_prefix()}token", f"/{issuer_prefix()}{KEYCLOAK_ALIASES['token']}")
