"""What authapi/oauth.py relies on in django-oauth-toolkit and oauthlib, beyond their public hooks.

Three private methods are overridden: OAuth2Validator's `_load_application` and `_create_access_token`, and
OAuthLibCore's `_extract_params` (authapi/oauth.py); a client-credentials grant calls `_save_bearer_token` (the
method django-oauth-toolkit's docstring says to override) without the transaction `save_bearer_token` wraps it
in; and the view reads HTTP Basic credentials itself. Each test
runs the libraries' own code and pins the behaviour the override depends on, so an upgrade that changes it fails
here, by name."""

import base64
import datetime as dt

import pytest
from django.utils import timezone
from oauth2_provider.oauth2_backends import OAuthLibCore
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


class Server:
    """oauthlib's server as OAuthLibCore calls it, recording what it is handed."""

    def __init__(self):
        self.calls = []
        self.request_validator = self

    def create_token_response(self, uri, http_method, body, headers, credentials=None):
        self.calls.append(("token", uri, http_method, body, headers))
        return {}, "{}", 200

    def create_revocation_response(self, uri, http_method, body, headers):
        self.calls.append(("revocation", uri, http_method, body, headers))
        return {}, "", 200

    def authenticate_client(self, request):
        self.calls.append(("authenticate", request.uri, request.http_method, request.body, dict(request.headers)))
        return True


class Extracting(OAuthLibCore):
    """Stock OAuthLibCore whose `_extract_params` answers what the registry's override would: parameters already
    parsed, as (name, value) pairs."""

    def _extract_params(self, request):
        return "/auth/token", "POST", [("grant_type", "client_credentials")], {"Content-Type": "x"}


@pytest.mark.parametrize("method", ["create_token_response", "create_revocation_response", "authenticate_client"])
def test_each_entry_point_takes_its_parameters_from_extract_params_and_hands_them_on(method):
    server = Server()
    getattr(Extracting(server=server), method)(object())
    [(_kind, uri, http_method, body, headers)] = server.calls
    assert (uri, http_method, dict(body)) == ("/auth/token", "POST", {"grant_type": "client_credentials"})
    assert headers["Content-Type"] == "x"


@pytest.mark.django_db
def test_save_bearer_token_only_wraps_save_bearer_token_in_a_transaction():
    """The registry's validator calls `_save_bearer_token` directly for a client-credentials grant (its one row is
    atomic by itself): that skips nothing but the transaction, as long as the stock method does nothing else."""
    from django.db import connection

    class Saving(OAuth2Validator):
        def __init__(self):
            self.saved = []

        def _save_bearer_token(self, token, request, *args, **kwargs):
            self.saved.append((token, request, args, kwargs, len(connection.atomic_blocks)))
            return "saved"

    validator, token, request = Saving(), {"access_token": "x"}, object()
    outside = len(connection.atomic_blocks)
    assert validator.save_bearer_token(token, request, "extra", flag=True) == "saved"
    assert validator.saved == [(token, request, ("extra",), {"flag": True}, outside + 1)]  # one atomic block, no more
