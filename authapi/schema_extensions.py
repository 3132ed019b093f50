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
