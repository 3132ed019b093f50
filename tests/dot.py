"""Drive django-oauth-toolkit's own client-credentials machinery (OAuthLibCore + OAuth2Validator)."""

import json

from django.test import RequestFactory
from oauth2_provider.oauth2_backends import OAuthLibCore


def dot_token_request(client_id: str, client_secret: str) -> tuple[int, dict]:
    """A client-credentials grant through django-oauth-toolkit's stock core; returns (status, body)."""
    request = RequestFactory().post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
    )
    _uri, _headers, body, status = OAuthLibCore().create_token_response(request)
    return status, json.loads(body)
