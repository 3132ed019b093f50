"""Hostile input: every endpoint and admin form answers 4xx in its documented shape and changes nothing."""

import json

import pytest
from django.urls import reverse
from oauth2_provider.models import AccessToken, Application

from participants.models import (
    AuditEvent,
    NetworkMembership,
    Organisation,
    Participant,
    ParticipantKey,
    Product,
    ProductNetwork,
)
from tests.authapi.conftest import FORM, bearer, get_token

TABLES = (
    Organisation,
    Participant,
    ParticipantKey,
    Application,
    AccessToken,
    AuditEvent,
    Product,
    ProductNetwork,
    NetworkMembership,
)

NASTY_STRINGS = [
    "\x00",
    "a\x00b",
    "x" * 100_000,
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "' OR '1'='1' --",
    "1; DROP TABLE participants_participant; --",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "ＬＥＮＤＥＲ",
    "LENDΕR",
    "\u202eRDNEL",
    "😀" * 1000,
    "{}",
    "[]",
    "null",
]
NASTY_IDS = ["not-a-uuid", "../../etc/passwd", "' OR 1=1 --", "%00", "<script>", "1" * 5000, "ＡＢＣ"]


def counts():
    return [model.objects.count() for model in TABLES]


def assert_registry_error(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert set(response.json()) == {"errorCode", "message", "timestamp", "traceId"}


def assert_oauth_error(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"]


@pytest.fixture
def token(client, lender, loan_agent):
    return get_token(client, loan_agent)


@pytest.mark.parametrize("value", NASTY_STRINGS)
def test_token_endpoint(client, db, value):
    before = counts()
    for body, content_type in (
        (f"client_id={value}&client_secret={value}", FORM),
        (json.dumps({"clientId": value, "clientSecret": value}), "application/json"),
        (json.dumps({"client_id": [value], "client_secret": {"x": value}}), "application/json"),
        ("client_id=a&client_id=b&client_secret=c&client_secret=d", FORM),
        (value, "application/json"),
        (value, "text/xml"),
    ):
        assert_oauth_error(client.post("/auth/token", body, content_type=content_type))
    assert counts() == before


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_oversized_bodies_are_a_413_in_the_json_shape_in_every_mode(client, token, settings, debug):
    settings.DEBUG = debug  # development mode would show Django's HTML page for a body it refuses
    before = counts()
    ten_megabytes = "x" * (10 * 1024 * 1024)
    token_response = client.post("/auth/token", "client_id=a&client_secret=" + ten_megabytes, content_type=FORM)
    assert token_response.status_code == 413
    assert_oauth_error(token_response)
    response = client.post(
        "/service/signature-check",
        json.dumps({"body": ten_megabytes, "signature": "a..b"}),
        content_type="application/json",
        **bearer(token),
    )
    assert response.status_code == 413 and response.json()["errorCode"] == "PAYLOAD_TOO_LARGE"
    assert_registry_error(response)
    assert counts() == before


@pytest.mark.parametrize("value", NASTY_STRINGS)
def test_introspection_and_revocation(client, token, loan_agent, value):
    before = counts()
    for path in ("/auth/introspect", "/auth/revoke"):
        response = client.post(path, json.dumps({"token": value, "client_id": value}), content_type="application/json")
        assert_oauth_error(response)
    assert counts() == before


@pytest.mark.parametrize("value", NASTY_IDS)
def test_registry_paths_with_hostile_ids(client, token, value):
    before = counts()
    for path in (
        "participant-roles/{}",
        "participant-roles/{}/jwks",
        "products/{}",
        "product-networks/{}",
        "product-networks/{}/participants",
    ):
        response = client.get("/service/" + path.format(value), **bearer(token))
        assert_registry_error(response)
    assert counts() == before


@pytest.mark.parametrize("value", NASTY_STRINGS)
def test_registry_query_parameters_and_bodies(client, token, value):
    before = counts()
    for params in ({"role": value}, {"status": value}, {"updatedSince": value}, {"page": value}, {"size": value}):
        response = client.get("/service/participant-roles", params, **bearer(token))
        assert response.status_code in (200, 400), response.status_code
        if response.status_code == 400:
            assert_registry_error(response)
    for body in (value, json.dumps({"body": value, "signature": value, "participantId": value})):
        response = client.post("/service/signature-check", body, content_type="application/json", **bearer(token))
        assert response.status_code in (200, 400, 404), response.status_code
        if response.status_code != 200:
            assert_registry_error(response)
    assert counts() == before


def header_safe(value: str) -> bool:
    """HTTP header values are Latin-1 on the wire: no client can send the others in a header."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("value", [v for v in NASTY_STRINGS if header_safe(v)])
def test_hostile_bearer_tokens(client, lender, value):
    response = client.get(f"/service/participant-roles/{lender.participant.id}", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert_registry_error(response)
    assert response.status_code == 401


@pytest.mark.parametrize("value", NASTY_STRINGS)
def test_admin_forms(client, registry_admin, lender, value):
    client.force_login(registry_admin)
    before = counts()
    forms = [
        (
            reverse("admin:participants_participant_add"),
            {"new_organisation_name": value, "role": value, "base_url": value, "public_key": value},
        ),
        (reverse("admin:participants_participant_add_key", args=[lender.participant.pk]), {"public_key": value}),
        (
            reverse("admin:participants_organisation_add"),
            {
                "name": value[:300],
                "website": value,
                "email": value,
                "participants-TOTAL_FORMS": "0",
                "participants-INITIAL_FORMS": "0",
            },
        ),
        (reverse("admin:participants_product_add"), {"lender": value, "name": value}),
        (
            reverse("admin:participants_productnetwork_add"),
            {
                "name": value,
                "product": value,
                "created_by": value,
                "memberships-TOTAL_FORMS": "0",
                "memberships-INITIAL_FORMS": "0",
            },
        ),
        (reverse("admin:participants_participant_confirm", args=["offboard"]), {"ids": value, "confirmed": "yes"}),
        (
            reverse("admin:participants_participant_signature_check", args=[lender.participant.pk]),
            {"body": value, "signature": value},
        ),
    ]
    for url, data in forms:
        response = client.post(url, data)
        assert response.status_code in (200, 302, 400), (url, response.status_code)
    assert counts() == before


LONE_SURROGATE = '"\\ud800"'  # valid JSON, but no UTF-8 text
DEEP = "[" * 1500 + "]" * 1500


@pytest.mark.parametrize(
    "body",
    [f'{{"clientId": {LONE_SURROGATE}, "clientSecret": "x"}}', f'{{"client_id": "a", "client_secret": {DEEP}}}', DEEP],
    ids=["lone-surrogate", "deep-value", "deep-document"],
)
def test_json_that_nothing_can_store_is_invalid_request(client, token, body):
    before = counts()
    for path in ("/auth/token", "/auth/introspect", "/auth/revoke"):
        response = client.post(path, body, content_type="application/json")
        assert_oauth_error(response)
        assert response.json()["error"] == "invalid_request"
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        f'{{"body": {LONE_SURROGATE}, "signature": "a..b"}}',
        f'{{"body": "x", "signature": {LONE_SURROGATE}}}',
        DEEP,
        f'{{"body": "x", "signature": "a..b", "participantId": {DEEP}}}',
    ],
    ids=["surrogate-body", "surrogate-signature", "deep-document", "deep-participant-id"],
)
def test_the_signature_check_refuses_json_that_nothing_can_store(client, token, body):
    response = client.post("/service/signature-check", body, content_type="application/json", **bearer(token))
    assert_registry_error(response)
    assert response.status_code == 400


def b64url(value) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["RS256"]},
        {"alg": {"RS256": 1}},
        {"alg": "RS256", "crit": [{}]},
        {"alg": "RS256", "crit": [["b64"]]},
        {"alg": "RS256", "b64": "false"},
        {"alg": "RS256", "kid": ["k"]},
        {"alg": "RS256", "kid": {"k": 1}},
        {"alg": None},
        "RS256",
        [1, 2],
    ],
)
def test_signature_headers_of_the_wrong_types_are_diagnosed_not_crashed(client, token, lender, header):
    signature = f"{b64url(header)}..c2ln"
    body = {"body": "{}", "signature": signature, "participantId": str(lender.participant.id)}
    response = client.post(
        "/service/signature-check", json.dumps(body), content_type="application/json", **bearer(token)
    )
    assert response.status_code == 200 and response.json()["valid"] is False
    assert response.json()["reason"] in {"algorithm_not_allowed", "malformed_signature"}


def test_an_admin_user_name_longer_than_any_user_has_is_a_form_error(client, registry_admin):
    before = counts()
    response = client.post(reverse("admin:login") + "?next=/admin/", {"username": "a" * 300, "password": "x"})
    assert response.status_code == 200 and "at most 150 characters" in response.content.decode()
    assert counts() == before


def test_a_bug_is_a_500_in_the_documented_shape_not_an_outage(client, token, monkeypatch, caplog):
    """Only an unreachable database or cache is 'temporarily unavailable'; an IntegrityError (a bug) is a
    500 in the §5 shape, logged with its traceback."""
    from django.db import IntegrityError

    from authapi.views import sync

    def broken(*args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(sync, "participant_document", broken)
    client.raise_request_exception = False
    response = client.get("/service/participant-roles?size=1", **bearer(token))
    assert response.status_code == 500 and response.json()["errorCode"] == "INTERNAL_ERROR"
    assert any(record.exc_info and record.exc_info[0] is IntegrityError for record in caplog.records)


def test_a_chunked_body_is_refused_not_read_as_empty(client, token, lender):
    """Django reads a body sent without a Content-Length as empty: a chunked token request must not be granted on
    its Authorization header alone, with the parameters it sent (grant_type, resource, scope) ignored."""
    from tests.authapi.conftest import basic

    response = client.post(
        "/auth/token",
        "grant_type=password",
        content_type=FORM,
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_AUTHORIZATION=basic(lender.participant.client_id, lender.client_secret),
    )
    assert response.status_code == 411 and response.json()["error"] == "invalid_request"
    registry = client.post(
        "/service/subscriptions",
        "{}",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        **bearer(token),
    )
    assert registry.status_code == 411 and registry.json()["errorCode"] == "LENGTH_REQUIRED"
