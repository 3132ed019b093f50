"""What authapi/oauth.py relies on in django-oauth-toolkit and oauthlib, beyond their public hooks.

Two private methods of OAuth2Validator are overridden (`_load_application`, `_create_access_token`) and
the view reads HTTP Basic credentials itself. Each test runs the libraries' own code and pins the
behaviour the override depends on, so an upgrade that changes it fails here, by name."""

import base64
import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2 import BackendApplicationServer

from authapi.views.auth import basic_credentials


class Recorder(OAuth2Validator):
    """Stock OAuth2Validator, recording the calls the registry's validator replaces."""

    def __init__(self, secret="s3cret"):  # noqa: S107 — a test value
        self.loaded, self.created, self.secret = [], [], secret

    def _load_application(self, client_id, request):
        self.loaded.append(client_id)
        request.client = type(
            "Client", (), {"client_id": client_id, "client_secret": self.secret, "client_type": "confidential"}
        )()
        return request.client

    def _check_secret(self, provided_secret, stored_secret):
        return provided_secret == stored_secret

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        self.created.append((expires, token, source_refresh_token))


def oauthlib_request(headers=None, **body) -> Request:
    request = Request("https://registry.test/auth/token", "POST", list(body.items()), headers or {})
    request.client = None
    return request


def test_body_authentication_loads_the_client_by_its_id_and_checks_the_loaded_secret():
    validator = Recorder()
    assert validator.authenticate_client(oauthlib_request(client_id="abc", client_secret="s3cret"))
    assert validator.loaded == ["abc"]
    assert not Recorder().authenticate_client(oauthlib_request(client_id="abc", client_secret="other"))


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("plain", "s"), ("with%2Fslash", "a:b:c"), ("plus+sign", "sp ace"), ("ünï", "cödé"), ("%41BC", "%3A")],
)
def test_basic_credentials_are_read_exactly_as_django_oauth_toolkit_reads_them(client_id, secret):
    header = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    validator = Recorder(secret=basic_credentials(header)[1])
    assert validator.authenticate_client(oauthlib_request({"HTTP_AUTHORIZATION": header}))
    assert validator.loaded == [basic_credentials(header)[0]]


def test_a_client_credentials_grant_creates_its_token_through_create_access_token_once():
    validator = Recorder()
    request = oauthlib_request(client_id="abc", client_secret="s3cret", grant_type="client_credentials")
    request.grant_type, request.scopes, request.client = "client_credentials", ["ocen"], None
    validator.authenticate_client(request)
    before = timezone.now()
    validator._save_bearer_token({"access_token": "t", "scope": "ocen", "expires_in": 3600}, request)
    [(expires, token, refresh)] = validator.created
    assert token == {"access_token": "t", "scope": "ocen", "expires_in": 3600} and refresh is None
    assert before + dt.timedelta(seconds=3599) <= expires <= timezone.now() + dt.timedelta(seconds=3601)
    assert request.user is None


def test_oauthlib_answers_with_the_token_dict_that_was_saved():
    """The registry re-signs a token inside save_token when the signing key changed; the caller must
    receive that same (changed) dict."""

    class Resigning(Recorder):
        def validate_grant_type(self, *args, **kwargs):
            return True

        def get_default_scopes(self, *args, **kwargs):
            return ["ocen"]

        def validate_scopes(self, *args, **kwargs):
            return True

        def save_bearer_token(self, token, request, *args, **kwargs):
            token["access_token"] = "re-signed"

    server = BackendApplicationServer(Resigning(), token_generator=lambda request, refresh_token=False: "first")
    _headers, body, status = server.create_token_response(
        "https://registry.test/auth/token",
        "POST",
        "grant_type=client_credentials&client_id=abc&client_secret=s3cret",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and '"access_token": "re-signed"' in body
