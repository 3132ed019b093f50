"""GenerateAccessToken (contract §4.1, §4.2) through django-oauth-toolkit's client-credentials grant."""

import json

import pytest
from django.test import override_settings
from jwcrypto import jwk, jwt
from oauth2_provider.models import AccessToken

from authapi.models import SigningKey
from participants import services
from tests.authapi.conftest import FORM, TOKEN_URL, basic, post_form

INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}


def form(credentials, **extra):
    return {"client_id": credentials.participant.client_id, "client_secret": credentials.client_secret, **extra}


def claims_of(token: str) -> tuple[dict, dict]:
    """Header and claims, verified with the registry's published key."""
    header = jwt.JWT(jwt=token).token.jose_header
    key = jwk.JWK(**SigningKey.objects.get(kid=header["kid"]).public_jwk)
    return header, json.loads(jwt.JWT(jwt=token, key=key, algs=["RS256"]).claims)


def assert_token_response(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "ocen"
    assert response["Cache-Control"] == "no-store" and response["Content-Type"] == "application/json"
    return body["access_token"]


def test_form_encoded_client_secret_post(client, lender):
    token = assert_token_response(post_form(client, TOKEN_URL, form(lender, grant_type="client_credentials")))
    header, claims = claims_of(token)
    participant = lender.participant
    assert header == {"alg": "RS256", "typ": "JWT", "kid": SigningKey.objects.get().kid}
    assert claims["iss"] == "http://localhost:8000/auth" and claims["aud"] == "ocen"
    assert claims["sub"] == claims["participantId"] == str(participant.id)
    assert claims["orgId"] == str(participant.organisation_id) and claims["participantRole"] == "LENDER"
    assert claims["azp"] == claims["client_id"] == participant.client_id
    assert claims["scope"] == "ocen" and len(claims["jti"]) == 32
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]


def test_grant_type_defaults_to_client_credentials(client, lender):
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))


def test_http_basic_client_authentication(client, lender):
    response = post_form(
        client,
        TOKEN_URL,
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(lender.participant.client_id, lender.client_secret),
    )
    assert_token_response(response)


@pytest.mark.parametrize("style", ["snake", "camel"])
def test_json_body(client, lender, style):
    names = ("client_id", "client_secret") if style == "snake" else ("clientId", "clientSecret")
    body = {names[0]: lender.participant.client_id, names[1]: lender.client_secret}
    assert_token_response(client.post(TOKEN_URL, json.dumps(body), content_type="application/json"))


def test_each_token_is_unique_and_stored_hashed(client, lender):
    first = assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    second = assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    assert first != second and claims_of(first)[1]["jti"] != claims_of(second)[1]["jti"]
    stored = list(AccessToken.objects.values_list("token", flat=True))
    assert len(stored) == 2 and first not in stored and second not in stored


@pytest.mark.parametrize(
    "case", ["wrong secret", "unknown client", "suspended", "offboarded", "unapproved", "rejected", "empty secret"]
)
def test_every_refusal_is_the_same_invalid_client(client, actor, lender, case, settings):
    client_id, secret = lender.participant.client_id, lender.client_secret
    if case == "wrong secret":
        secret = secret[:-2] + "xx"
    elif case == "unknown client":
        client_id = "no-such-client"
    elif case == "empty secret":
        secret = ""
    elif case == "suspended":
        services.suspend_participant(participant=lender.participant, actor=actor)
    elif case == "offboarded":
        services.offboard_participant(participant=lender.participant, actor=actor)
    else:
        settings.OCEN_FOUR_EYES = True
        pending = services.onboard_participant(
            org_name="Pending Org",
            role="LENDER",
            base_url="https://p.example.in",
            public_key=lender_public(),
            actor=actor,
        )
        if case == "rejected":
            services.reject_participant(participant=pending.participant, actor=actor)
        client_id, secret = pending.participant.client_id, pending.client_secret
    response = post_form(client, TOKEN_URL, {"client_id": client_id, "client_secret": secret})
    assert response.status_code == 401
    assert response.json() == INVALID_CLIENT
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response["Cache-Control"] == "no-store"


def lender_public():
    from tests.keys import public_pem, rsa_key

    return public_pem(rsa_key("pending"))


@pytest.mark.parametrize(
    ("kwargs", "error", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, "invalid_request", 400),
        ({"data": "[1, 2]", "content_type": "application/json"}, "invalid_request", 400),
        (
            {"data": '{"client_id": 7, "client_secret": "x"}', "content_type": "application/json"},
            "invalid_request",
            400,
        ),
        ({"data": "client_id=a&client_secret=b", "content_type": "text/plain"}, "invalid_request", 400),
        ({"data": "grant_type=password&username=u&password=p", "content_type": FORM}, "unsupported_grant_type", 400),
        ({"data": "grant_type=authorization_code&code=c", "content_type": FORM}, "unsupported_grant_type", 400),
        ({"data": "client_id=a&client_secret=" + "b" * 10000, "content_type": FORM}, "invalid_request", 400),
        ({"data": "client_id=a%00b&client_secret=b", "content_type": FORM}, "invalid_request", 400),
        ({"data": "", "content_type": FORM}, "invalid_client", 401),
        ({"data": {"client_id": "a", "client_secret": "b"}}, "invalid_request", 400),
    ],
    ids=[
        "bad-json",
        "json-array",
        "non-string",
        "text-plain",
        "password-grant",
        "code-grant",
        "oversized",
        "nul-byte",
        "no-credentials",
        "multipart",
    ],
)
def test_malformed_requests_get_rfc6749_errors(client, db, kwargs, error, status):
    response = client.post(TOKEN_URL, **kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_description"]
    assert AccessToken.objects.count() == 0


def test_get_is_not_allowed(client, db):
    response = client.get(TOKEN_URL)
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"


def test_every_token_grant_is_one_read_and_one_write(client, lender, django_assert_num_queries):
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))  # signing key created on first need
    for _ in range(2):  # a repeat grant reads the client afresh: nothing about it is remembered
        with django_assert_num_queries(2) as queries:
            assert_token_response(post_form(client, TOKEN_URL, form(lender)))
        assert queries.captured_queries[0]["sql"].startswith("SELECT")
        assert queries.captured_queries[1]["sql"].startswith('INSERT INTO "oauth2_provider_accesstoken"')


def test_a_client_loses_access_the_moment_its_secret_is_rotated(client, actor, lender):
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    rotated = services.rotate_client_secret(participant=lender.participant, actor=actor)
    response = post_form(client, TOKEN_URL, form(lender))
    assert (response.status_code, response.json()) == (401, INVALID_CLIENT)
    assert_token_response(post_form(client, TOKEN_URL, form(rotated)))
    assert AccessToken.objects.count() == 2


@pytest.mark.parametrize("change", ["suspend", "offboard"])
def test_a_client_loses_access_the_moment_its_participant_does(client, actor, lender, change):
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    if change == "suspend":
        services.suspend_participant(participant=lender.participant, actor=actor, reason="test")
    else:
        services.offboard_participant(participant=lender.participant, actor=actor, reason="test")
    response = post_form(client, TOKEN_URL, form(lender))
    assert (response.status_code, response.json()) == (401, INVALID_CLIENT)
    assert AccessToken.objects.count() == 0


def test_a_reinstated_participant_gets_tokens_again(client, actor, lender):
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    services.suspend_participant(participant=lender.participant, actor=actor, reason="test")
    assert post_form(client, TOKEN_URL, form(lender)).status_code == 401
    services.reinstate_participant(participant=lender.participant, actor=actor)
    assert_token_response(post_form(client, TOKEN_URL, form(lender)))


@override_settings(OCEN_AUTO_CREATE_SIGNING_KEY=False)
def test_without_a_signing_key_the_endpoint_is_temporarily_unavailable(client, lender):
    response = post_form(client, TOKEN_URL, form(lender))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"
    assert AccessToken.objects.count() == 0


def test_an_undecryptable_signing_key_is_temporarily_unavailable_not_a_crash(client, lender, settings):
    from cryptography.fernet import Fernet

    from authapi.memory import memory

    assert_token_response(post_form(client, TOKEN_URL, form(lender)))  # key created, encrypted
    memory.reset()
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # not the key it was stored under
    response = post_form(client, TOKEN_URL, form(lender))
    assert response.status_code == 503 and response.json()["error"] == "temporarily_unavailable"


def test_the_stored_row_is_what_django_oauth_toolkit_would_write(client, lender):
    """Hashed storage (RFC 9700): a blank token column, the SHA-256 checksum, the grant's expiry and scope."""
    import datetime as dt
    import hashlib

    from django.utils import timezone

    before = timezone.now()
    token = assert_token_response(post_form(client, TOKEN_URL, form(lender)))
    stored = AccessToken.objects.get()
    assert stored.token == "" and token not in str(vars(stored))
    assert stored.token_checksum == hashlib.sha256(token.encode()).hexdigest()
    assert stored.application_id == lender.participant.application_id and stored.user_id is None
    assert stored.scope == "ocen" and stored.resource == []
    assert before <= stored.created == stored.updated <= timezone.now()
    assert abs(stored.expires - (stored.created + dt.timedelta(seconds=3600))) < dt.timedelta(seconds=2)
    assert stored.source_refresh_token_id is None and stored.id_token_id is None
    assert AccessToken.objects.get(token_checksum=stored.token_checksum).is_valid(["ocen"])


def test_credentials_in_the_query_string_are_not_read(client, lender):
    """RFC 6749 §2.3.1: client credentials travel in the body or the Authorization header, never the URI."""
    from urllib.parse import urlencode

    response = post_form(client, f"{TOKEN_URL}?{urlencode(form(lender))}", {"grant_type": "client_credentials"})
    assert (response.status_code, response.json()) == (401, INVALID_CLIENT)
    assert AccessToken.objects.count() == 0
