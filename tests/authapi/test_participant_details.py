"""GetParticipantDetails and the other registry reads (contract §5, §5.1, §5.2)."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from participants import services
from participants.models import Participant
from tests.authapi.conftest import bearer, get_token
from tests.keys import certificate_pem, png, public_pem, rsa_key

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def details(client, token, participant_id, **headers):
    return client.get(f"/service/participant-roles/{participant_id}", **bearer(token), **headers)


def assert_error(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"errorCode", "message", "timestamp", "traceId"}
    assert body["errorCode"] == code and body["message"] and RFC3339.match(body["timestamp"]) and body["traceId"]
    return body


def test_body_shape_field_by_field(client, agent_token, lender):
    participant = Participant.objects.select_related("organisation").get(pk=lender.participant.pk)
    key = participant.keys.get()
    response = details(client, agent_token, participant.id)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == [
        "id",
        "participantRole",
        "baseUrl",
        "publicKey",
        "publicKeys",
        "participantRoleStatus",
        "isApproved",
        "approvedBy",
        "approvedOn",
        "status",
        "tokensValidFrom",
        "clientId",
        "kcClientId",
        "createdOn",
        "updatedOn",
        "participant",
    ]
    assert body["id"] == str(participant.id)
    assert body["participantRole"] == "LENDER" and body["baseUrl"] == "https://lender.example.in/ocen"
    assert json.loads(body["publicKey"]) == {**key.jwk, "kid": key.kid, "use": "sig", "alg": "RS256"}
    assert body["publicKeys"] == {
        "keys": [
            {
                **key.jwk,
                "kid": key.kid,
                "use": "sig",
                "alg": "RS256",
                "status": "ACTIVE",
                "validFrom": body["publicKeys"]["keys"][0]["validFrom"],
                "validUntil": None,
                "primary": True,
                "primaryFrom": body["createdOn"],
            }
        ]
    }
    assert body["approvedBy"] == "OCEN Registry" and body["kcClientId"] == body["clientId"]
    assert body["approvedOn"] == body["createdOn"]  # never a moment before it
    assert body["participantRoleStatus"] == "APPROVED" and body["isApproved"] is True
    assert body["status"] == "ACTIVE" and body["clientId"] == participant.client_id
    for field in ("approvedOn", "createdOn", "updatedOn"):
        assert RFC3339.match(body[field]), field
    assert body["participant"] == {
        "id": str(participant.organisation_id),
        "participantName": "Bharat Lending Bank",
        "participantDescription": "",
        "participantWebsite": "",
        "participantEmail": "",
        "participantPhone": "",
        "participantLogo": None,
        "participantLogoContentType": None,
        "createdOn": body["participant"]["createdOn"],
        "updatedOn": body["participant"]["updatedOn"],
    }
    assert lender.client_secret not in response.content.decode()
    assert "d" not in json.loads(body["publicKey"])


def test_certificate_key_validity_is_published(client, actor, agent_token, lender):
    now = timezone.now()
    pem = certificate_pem(
        rsa_key("lender-cert"), not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    )
    services.add_participant_key(participant=lender.participant, public_key=pem, actor=actor)
    keys = details(client, agent_token, lender.participant.id).json()["publicKeys"]["keys"]
    assert keys[0]["validUntil"] == (now.replace(microsecond=0) + dt.timedelta(days=30)).astimezone(dt.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )


def test_rotation_publishes_every_key_a_verifier_may_meet(client, actor, agent_token, lender):
    old = lender.participant.keys.get()
    new = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor, primary_from=timezone.now()
    )
    services.retire_key(key=old, actor=actor)
    third = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("l3")), actor=actor
    )
    services.revoke_key(key=third, actor=actor, reason="leaked")
    body = details(client, agent_token, lender.participant.id).json()
    assert json.loads(body["publicKey"])["kid"] == new.kid
    statuses = {k["kid"]: k["status"] for k in body["publicKeys"]["keys"]}
    assert statuses == {old.kid: "RETIRED", new.kid: "ACTIVE", third.kid: "REVOKED"}
    revoked = next(k for k in body["publicKeys"]["keys"] if k["kid"] == third.kid)
    assert RFC3339.match(revoked["revokedAt"])


def test_etag_and_if_none_match(client, actor, agent_token, lender):
    first = details(client, agent_token, lender.participant.id)
    assert first["Cache-Control"] == "private, max-age=300" and first["ETag"].startswith('"')
    again = details(client, agent_token, lender.participant.id, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == first["ETag"]
    services.update_participant(participant=lender.participant, actor=actor, base_url="https://new.lender.in")
    changed = details(client, agent_token, lender.participant.id, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert changed.json()["baseUrl"] == "https://new.lender.in"


@pytest.mark.parametrize("participant_id", ["8b7d8a52-8c1e-4e59-9d55-2a3c9e1f0a11", "not-a-uuid", "3051", "%00"])
def test_unknown_participant_is_404_in_the_error_shape(client, agent_token, participant_id):
    assert_error(details(client, agent_token, participant_id), 404, "NOT_FOUND")


def test_offboarded_participant_is_a_tombstone(client, actor, agent_token, lender):
    services.offboard_participant(participant=lender.participant, actor=actor)
    body = details(client, agent_token, lender.participant.id).json()
    assert body["status"] == "OFFBOARDED" and body["publicKey"] is None
    assert {k["status"] for k in body["publicKeys"]["keys"]} == {"REVOKED"}
    assert body["clientId"] == lender.participant.client_id


def test_a_suspended_callers_unexpired_token_is_refused(client, actor, loan_agent, agent_token, lender):
    assert details(client, agent_token, lender.participant.id).status_code == 200
    services.suspend_participant(participant=loan_agent.participant, actor=actor)
    response = details(client, agent_token, lender.participant.id)
    assert_error(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_reinstated_participant_needs_a_new_token(client, actor, loan_agent, agent_token, lender):
    services.suspend_participant(participant=loan_agent.participant, actor=actor)
    services.reinstate_participant(participant=loan_agent.participant, actor=actor)
    assert details(client, agent_token, lender.participant.id).status_code == 401  # revoked at suspension
    assert details(client, get_token(client, loan_agent), lender.participant.id).status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic YTpi", "Bearer a.b.c"])
def test_missing_or_bad_tokens_are_401(client, lender, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get(f"/service/participant-roles/{lender.participant.id}", **headers)
    assert_error(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_token_in_the_query_string_is_not_accepted(client, agent_token, lender):
    response = client.get(f"/service/participant-roles/{lender.participant.id}?access_token={agent_token}")
    assert response.status_code == 401


def test_query_count_is_fixed_and_does_not_grow_with_keys(
    client, actor, agent_token, lender, django_assert_num_queries
):
    # First read: the bearer check with the change stamp, then the participant with its organisation and keys.
    with django_assert_num_queries(2):
        assert details(client, agent_token, lender.participant.id).status_code == 200
    # Unchanged since: the bearer check with the change stamp alone.
    with django_assert_num_queries(1):
        assert details(client, agent_token, lender.participant.id).status_code == 200
    for index in range(5):
        services.add_participant_key(
            participant=lender.participant, public_key=public_pem(rsa_key(f"k{index}")), actor=actor
        )
    with django_assert_num_queries(2):
        response = details(client, agent_token, lender.participant.id)
        assert len(response.json()["publicKeys"]["keys"]) == 6
    # A revalidation: the bearer check with the change stamp alone, then 304.
    with django_assert_num_queries(1):
        assert (
            details(client, agent_token, lender.participant.id, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
        )


def test_participant_jwks(client, actor, agent_token, lender):
    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor)
    response = client.get(f"/service/participant-roles/{lender.participant.id}/jwks", **bearer(agent_token))
    assert response.status_code == 200 and response["ETag"]
    assert [k["status"] for k in response.json()["keys"]] == ["ACTIVE", "ACTIVE"]
    assert_error(client.get("/service/participant-roles/nope/jwks", **bearer(agent_token)), 404, "NOT_FOUND")


def test_unknown_paths_and_methods_get_the_error_shape(client, agent_token, lender):
    assert_error(client.get("/service/nothing-here", **bearer(agent_token)), 404, "NOT_FOUND")
    assert_error(client.get("/service/participant-roles/a/b/c", **bearer(agent_token)), 404, "NOT_FOUND")
    response = client.post(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token))
    assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_trace_id_is_echoed(client, agent_token):
    body = assert_error(
        client.get("/service/participant-roles/nope", **bearer(agent_token), HTTP_X_TRACE_ID="t-123"), 404, "NOT_FOUND"
    )
    assert body["traceId"] == "t-123"


# --- the list -----------------------------------------------------------------------------------------


def listing(client, token, **params):
    return client.get("/service/participant-roles", params, **bearer(token))


def test_list_pages_in_stable_order(client, actor, agent_token, lender, loan_agent):
    for index in range(3):
        services.onboard_participant(
            org_name=f"Org {index}",
            role="KYC_PARTNER",
            base_url=f"https://o{index}.example.in",
            public_key=public_pem(rsa_key(f"org{index}")),
            actor=actor,
        )
    pages = [listing(client, agent_token, size=2, page=n).json() for n in range(3)]
    assert [p["totalElements"] for p in pages] == [5, 5, 5] and pages[0]["totalPages"] == 3
    assert [len(p["content"]) for p in pages] == [2, 2, 1] and [p["number"] for p in pages] == [0, 1, 2]
    ids = [item["id"] for page in pages for item in page["content"]]
    assert len(set(ids)) == 5
    assert [(i["updatedOn"], i["id"]) for page in pages for i in page["content"]] == sorted(
        (i["updatedOn"], i["id"]) for page in pages for i in page["content"]
    )


def test_list_filters(client, actor, agent_token, lender, loan_agent):
    assert [i["id"] for i in listing(client, agent_token, role="LENDER").json()["content"]] == [
        str(lender.participant.id)
    ]
    cutoff = timezone.now()
    services.update_participant(participant=lender.participant, actor=actor, base_url="https://changed.example.in")
    since = cutoff.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    changed = listing(client, agent_token, updatedSince=since).json()["content"]
    assert [i["id"] for i in changed] == [str(lender.participant.id)]
    services.suspend_participant(participant=lender.participant, actor=actor)
    suspended = listing(client, agent_token, status="SUSPENDED").json()["content"]
    assert [i["id"] for i in suspended] == [str(lender.participant.id)]


@pytest.mark.parametrize(
    "params",
    [
        {"size": "0"},
        {"size": "201"},
        {"page": "-1"},
        {"page": "x"},
        {"role": "BORROWER"},
        {"status": "GONE"},
        {"updatedSince": "yesterday"},
        {"updatedSince": "2026-11-27T10:00:00"},
    ],
)
def test_list_parameter_errors(client, agent_token, params):
    assert_error(listing(client, agent_token, **params), 400, "BAD_REQUEST")


@pytest.mark.parametrize("path", ["/service/no-such-thing", "/service/participant-roles/", "/auth/token/"])
def test_unknown_api_paths_answer_json_even_in_development(client, settings, agent_token, path):
    settings.DEBUG = True  # Django would show its HTML 404 page
    response = client.get(path, **bearer(agent_token))
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["errorCode"] == "NOT_FOUND"


def test_if_none_match_star_is_a_304_without_a_body_type(client, agent_token, lender):
    response = details(client, agent_token, lender.participant.id, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 304 and "Content-Type" not in response and response.content == b""
    etag = details(client, agent_token, lender.participant.id)["ETag"]
    revalidated = details(client, agent_token, lender.participant.id, HTTP_IF_NONE_MATCH=f"W/{etag}")
    assert revalidated.status_code == 304 and "Content-Type" not in revalidated


def test_a_suspended_participant_names_no_public_key_and_its_keys_are_withheld(client, actor, agent_token, lender):
    services.suspend_participant(participant=lender.participant, actor=actor, reason="investigation")
    body = details(client, agent_token, lender.participant.id).json()
    assert body["publicKey"] is None and body["status"] == "SUSPENDED"
    assert [(k["status"], k["withheld"]) for k in body["publicKeys"]["keys"]] == [("ACTIVE", True)]
    services.reinstate_participant(participant=lender.participant, actor=actor)
    body = details(client, agent_token, lender.participant.id).json()
    assert json.loads(body["publicKey"])["kid"] == lender.participant.keys.get().kid
    assert "withheld" not in body["publicKeys"]["keys"][0]


def test_the_organisation_logo_is_published_in_its_participants_records(client, actor, agent_token, lender):
    import base64

    logo = png()
    services.set_organisation_logo(organisation=lender.participant.organisation, logo=logo, actor=actor)
    organisation = details(client, agent_token, lender.participant.id).json()["participant"]
    assert base64.b64decode(organisation["participantLogo"]) == logo
    assert organisation["participantLogoContentType"] == "image/png"
