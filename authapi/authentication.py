from oauth2_provider.contrib.rest_framework import OAuth2Authentication

BEARER_CHALLENGE = 'Bearer error="invalid_token"'


class ParticipantTokenAuthentication(OAuth2Authentication):
    """Bearer access token checked by django-oauth-toolkit (with the registry's validator: the
    participant must still be approved and active, so a suspended participant's unexpired token fails)."""

    def authenticate_header(self, request):
        return BEARER_CHALLENGE
