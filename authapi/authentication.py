from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.permissions import BasePermission

BEARER_CHALLENGE = 'Bearer error="invalid_token"'


class ParticipantTokenAuthentication(OAuth2Authentication):
    """Bearer access token checked by django-oauth-toolkit (with the registry's validator: the
    participant must still be approved and active, so a suspended participant's unexpired token fails)."""

    def authenticate(self, request):
        from .oauth import HeaderTokenOAuthLibCore, oauthlib_core

        valid, oauth_request = oauthlib_core(HeaderTokenOAuthLibCore).verify_request(request, scopes=[])
        if valid:
            return oauth_request.user, oauth_request.access_token
        return None

    def authenticate_header(self, request):
        return BEARER_CHALLENGE


class HasParticipantToken(BasePermission):
    """The request carries a valid access token of an approved, active participant."""

    def has_permission(self, request, view):
        return request.auth is not None
