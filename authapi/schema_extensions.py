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
