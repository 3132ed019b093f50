"""Registry answers are signed (contract §6) and the signature check explains signatures (issue: toolkit)."""

import base64
import json

import pytest
from django.urls import reverse
from joserfc import jws as joserfc_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from ocen_sdk import sign
from participants import services
from tests.authapi.conftest import bearer
from tests.keys import jose4j_detached_signature, public_pem, rsa_key


def verify_registry_signature(client, response):
    """Check the x-jws-signature with joserfc (the registry signs with PyJWT) from the published JWKS."""
    keys = KeySet.import_key_set(client.get("/auth/certs").json())
    signature = response["x-jws-signature"]
    header = json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))
    assert header["b64"] is False and header["crit"] == ["b64"] and header["alg"] == "RS256"
    joserfc_jws.deserialize_compact(signature, keys.get_by_kid(header["kid"]), payload=response.content)


def test_every_registry_answer_is_signed(client, agent_token, lender, network):
    for response in (
        client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token)),
        client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token)),  # cached rendering
        client.get("/service/participant-roles", **bearer(agent_token)),
        client.get(f"/service/product-networks/{network.id}/participants", **bearer(agent_token)),
        client.get("/service/participant-roles/nope", **bearer(agent_token)),
        client.get("/service/participant-roles"),
    ):
        verify_registry_signature(client, response)


def test_a_tampered_answer_fails_the_registrys_signature(client, agent_token, lender):
    response = client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token))
    response.content = response.content.replace(b"LENDER", b"KYC_PARTNER")
    with pytest.raises(BadSignatureError):
        verify_registry_signature(client, response)


def check(client, token, **payload):
    return client.post(
        "/service/signature-check", json.dumps(payload), content_type="application/json", **bearer(token)
    )


def test_signature_check_explains_a_good_signature(client, agent_token, lender):
    body = '{"metadata": {"originatorParticipantId": "x"}}'
    key = lender.participant.keys.get()
    result = check(
        client,
        agent_token,
        body=body,
        participantId=str(lender.participant.id),
        signature=sign(body.encode(), rsa_key("lender"), key.kid),
    ).json()
    assert result["valid"] is True and result["matchedKid"] == key.kid and result["reason"] is None
    assert [s["check"] for s in result["steps"]][-1] == "signature"
    assert result["warnings"] == []


def test_signature_check_warns_when_the_key_is_not_the_one_reference_verifiers_read(client, actor, agent_token, lender):
    """A published key that is not primary verifies for set-aware verifiers, and is refused by those that
    read only publicKey: the check says valid, and warns."""
    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor)
    later = lender.participant.keys.get(primary_from__isnull=True)
    body = '{"a": 1}'
    result = check(
        client,
        agent_token,
        body=body,
        participantId=str(lender.participant.id),
        signature=jose4j_detached_signature(body.encode(), rsa_key("l2")),  # no kid: every key is tried
    ).json()
    assert result["valid"] is True and result["matchedKid"] == later.kid
    assert len(result["warnings"]) == 1 and "not the signer's primary key" in result["warnings"][0]


def test_signature_check_defaults_to_the_callers_keys_and_says_why_it_fails(client, loan_agent, agent_token):
    body = '{"a": 1}'
    signature = jose4j_detached_signature(body.encode(), rsa_key("someone-else"))
    result = check(client, agent_token, body=body, signature=signature).json()
    assert result["valid"] is False and result["reason"] == "signature_mismatch"
    assert any("crit" in step["detail"] for step in result["steps"])


def test_signature_check_reports_a_revoked_key(client, actor, agent_token, lender):
    l2 = services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor)
    key = lender.participant.keys.order_by("created_at").first()
    services.revoke_key(key=key, actor=actor, reason="leaked", successor_kid=l2.kid)  # the primary: l2 takes over
    result = check(
        client,
        agent_token,
        body="{}",
        participantId=str(lender.participant.id),
        signature=sign(b"{}", rsa_key("lender"), key.kid),
    ).json()
    assert result["reason"] == "key_revoked"


@pytest.mark.parametrize("payload", [{}, {"body": 1, "signature": "x"}, {"body": "x"}])
def test_signature_check_input_errors(client, agent_token, payload):
    response = check(client, agent_token, **payload)
    assert response.status_code == 400 and response.json()["errorCode"] == "BAD_REQUEST"


def test_signature_check_unknown_participant(client, agent_token):
    response = check(
        client, agent_token, body="{}", signature="a..b", participantId="8b7d8a52-8c1e-4e59-9d55-2a3c9e1f0a11"
    )
    assert response.status_code == 404


def test_signature_check_in_the_admin(client, registry_viewer, lender):
    client.force_login(registry_viewer)
    url = reverse("admin:participants_participant_signature_check", args=[lender.participant.pk])
    body = '{"loan": 1}'
    page = client.post(url, {"body": body, "signature": sign(body.encode(), rsa_key("lender"), None)}).content.decode()
    assert "✔ Verifies, with key" in page and "✔ ok" in page
    page = client.post(
        url, {"body": body + " ", "signature": sign(body.encode(), rsa_key("lender"), None)}
    ).content.decode()
    assert (
        "Does not verify: no usable key verifies it over these exact bytes" in page and "(signature_mismatch)" in page
    )
