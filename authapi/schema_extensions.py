"""drf-spectacular description of the registry's bearer authentication (loaded by AuthapiConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ParticipantTokenScheme(OpenApiAuthenticationExtension):
    target_class = "authapi.authentication.ParticipantTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from GenerateAccessToken (POST /auth/token).",
        }


def role_spelling(result, generator, request, public):
    """drf-spectacular postprocessing: the role names of answers as this registry spells them
    (OCEN_ROLE_SPELLING): a network listing's properties, and a record's participantRole."""
    from participants.wire import wire_roles

    schemas = result.get("components", {}).get("schemas", {})
    roles = wire_roles()
    if "NetworkParticipants" in schemas:
        listing = schemas["NetworkParticipants"]
        item = next(iter(listing["properties"].values()))
        listing["properties"] = {role: item for role in roles}
        listing["required"] = roles
    if "ParticipantDetails" in schemas:
        schemas["ParticipantDetails"]["properties"]["participantRole"]["enum"] = roles
    return result


HEADER_DESCRIPTIONS = {
    "ETag": "The answer's version: send it back in If-None-Match to be told 304 when nothing changed.",
    "Cache-Control": "How long the answer may be used (OCEN_REGISTRY_MAX_AGE for registry reads and keys; no-store "
    "for the OAuth endpoints).",
    "x-jws-signature": "The registry's detached JWS (RFC 7515 Appendix F, b64=false) over the exact body; verify it "
    "with the registry's JWKS.",
    "WWW-Authenticate": "Why the credentials were refused (RFC 6750 for bearer tokens, RFC 7617 for the client).",
    "Retry-After": "Seconds to wait before trying again.",
}
OAUTH_PATHS = ("/auth/token", "/auth/introspect", "/auth/revoke")
KEY_PATHS = (
    "/auth/certs",
    "/.well-known/jwks.json",
    "/auth/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server/auth",
)


def headers_for(path: str, method: str, status: str) -> list[str]:
    """The headers an answer of this operation and status carries (tests/authapi/test_openapi.py holds live answers
    against them)."""
    registry = path.startswith("/service/")
    read = registry and method == "get" and status in ("200", "304")
    rules = (
        ("Cache-Control", read or (path in KEY_PATHS and status == "200") or path in OAUTH_PATHS),
        ("ETag", read),
        ("x-jws-signature", registry and status not in ("204", "503")),  # every JSON answer, errors included
        ("WWW-Authenticate", status == "401"),
        ("Retry-After", status in ("429", "503")),
    )
    return [name for name, applies in rules if applies]


def contract_headers(result, generator, request, public):
    """drf-spectacular postprocessing: each response's headers (headers_for), and the signed webhook event a
    subscription's receiver is sent (a callback of the operation that creates one)."""
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                for name in headers_for(path, method, status):
                    response.setdefault("headers", {})[name] = {
                        "schema": {"type": "string"},
                        "description": HEADER_DESCRIPTIONS[name],
                    }
    create = result.get("paths", {}).get("/service/subscriptions", {}).get("post")
    if create is not None:
        result.setdefault("components", {}).setdefault("schemas", {})["WebhookEvent"] = WEBHOOK_EVENT
        create["callbacks"] = {"event": {"{$request.body#/url}": {"post": WEBHOOK_DELIVERY}}}
    return result


WEBHOOK_EVENT = {
    "type": "object",
    "description": "One change of a type the subscription takes, as a signed POST to its URL (authapi/webhooks.py).",
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "The same on every retry: deduplicate by it."},
        "type": {"type": "string", "description": "An event type (EventType), or registry.resync."},
        "seq": {"type": "integer", "description": "The change feed's sequence number of the change."},
        "kind": {"type": "string", "enum": ["participant", "product", "network", "registry"]},
        "objectId": {"type": "string", "description": "The record that changed."},
        "occurredAt": {"type": "string", "format": "date-time"},
        "subscriptionId": {"type": "string", "format": "uuid", "description": "The subscription it is sent to."},
        "record": {
            "type": "object",
            "nullable": True,
            "description": "The record as the lookups answer the subscriber now; null if it may not see it.",
        },
        "missedAfter": {
            "type": "integer",
            "description": "registry.resync only: the last sequence number delivered before the gap.",
        },
    },
    "required": ["id", "type", "seq", "kind", "objectId", "occurredAt", "subscriptionId", "record"],
}
WEBHOOK_DELIVERY = {
    "summary": "A signed webhook event",
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": description,
        }
        for name, description in (
            ("x-jws-signature", "The registry's detached JWS over the exact body."),
            ("X-OCEN-Event-Id", "The event's id."),
            ("X-OCEN-Event-Type", "The event's type."),
        )
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}},
    },
    "responses": {"2XX": {"description": "Received; anything else (or no answer in time) is retried with backoff."}},
}
