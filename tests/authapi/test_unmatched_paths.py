"""A path under the API that matches nothing is the API's JSON 404, whatever the method, in development
and production alike; elsewhere Django's own behaviour (APPEND_SLASH redirects) holds."""

import pytest
from django.test import Client

from tests.authapi.test_signed_responses import verify_registry_signature

UNMATCHED = [
    "/auth/token/",  # a trailing slash a Keycloak-configured client may add
    "/auth/protocol/openid-connect/token/",
    "/auth/introspect/",
    "/auth/nope",
    "/auth",
    "/service",
    "/service/nope",
    "/service/participant-roles/",
    "/.well-known/jwks.json/",
    "/api/nope",
]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
@pytest.mark.parametrize("path", UNMATCHED)
def test_unmatched_api_paths_are_json_404_for_every_method(db, settings, debug, method, path):
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)  # as a browser-less participant meets it: no CSRF token
    client.raise_request_exception = False
    body = {} if method == "get" else {"data": "a=b", "content_type": "application/x-www-form-urlencoded"}
    response = getattr(client, method)(path, **body)
    assert response.status_code == 404, (path, response.status_code, response.content[:120])
    assert response["Content-Type"] == "application/json"
    assert response.json()["errorCode"] == "NOT_FOUND"


def test_an_unmatched_registry_path_is_signed_like_every_registry_answer(db, client, settings):
    settings.DEBUG = True
    verify_registry_signature(client, client.get("/service/nope"))


@pytest.mark.parametrize("path", ["/api/schema", "/api/docs"])
def test_the_schema_paths_without_their_slash_redirect(db, client, path):
    response = client.get(path)
    assert response.status_code == 301 and response["Location"] == f"{path}/"
