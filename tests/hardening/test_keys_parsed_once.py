"""Keys are parsed once per process: no request path turns PEM or JWK text into a key object again."""

import inspect
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from authapi.memory import memory
from ocen_sdk import sign, verify
from participants import services
from tests.authapi.conftest import TOKEN_URL, bearer, get_token, post_form
from tests.keys import public_pem, rsa_key

PARSERS = [
    (serialization, "load_pem_private_key"),
    (serialization, "load_pem_public_key"),
    (serialization, "load_der_private_key"),
    (serialization, "load_der_public_key"),
    (x509, "load_pem_x509_certificate"),
    (x509, "load_der_x509_certificate"),
    (jwk.JWK, "from_pem"),
    (jwk.JWK, "from_json"),
    (jwk.JWK, "import_key"),
    (RSAAlgorithm, "from_jwk"),
    (ECAlgorithm, "from_jwk"),
]


@pytest.fixture
def key_parses(monkeypatch):
    """Every key parser of cryptography, jwcrypto and PyJWT, wrapped to record that it ran."""
    calls = []
    for owner, name in PARSERS:
        original, static = getattr(owner, name), isinstance(inspect.getattr_static(owner, name), staticmethod)

        def spy(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, staticmethod(spy) if static else spy)
    return calls


def registry_traffic(client, lender, agent, agent_token, body, signature):
    """One of each request a participant makes, each answered in full."""
    form = {"client_id": agent.participant.client_id, "client_secret": agent.client_secret}
    assert post_form(client, TOKEN_URL, form).status_code == 200
    introspection = post_form(client, "/auth/introspect", {**form, "token": agent_token})
    assert introspection.json()["active"] is True
    details = client.get(f"/service/participant-roles/{lender.participant.id}", **bearer(agent_token))
    assert details.status_code == 200
    assert (
        client.get(f"/service/participant-roles/{lender.participant.id}/jwks", **bearer(agent_token)).status_code == 200
    )
    check = client.post(
        "/service/signature-check",
        json.dumps({"body": body.decode(), "signature": signature, "participantId": str(lender.participant.id)}),
        content_type="application/json",
        **bearer(agent_token),
    )
    assert check.json()["valid"] is True
    assert verify(body, signature, details.json()["publicKeys"])  # a provider's check, with ocen_sdk


def test_no_request_path_parses_a_key_after_the_first_use(client, actor, lender, loan_agent, key_parses):
    agent_token = get_token(client, loan_agent)
    body = b'{"metadata": {"originatorParticipantId": "x"}}'
    signature = sign(body, rsa_key("lender"), lender.participant.keys.get().kid)
    registry_traffic(client, lender, loan_agent, agent_token, body, signature)  # first use: keys are parsed
    assert key_parses, "the spies must see the first parses, or this test proves nothing"

    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("l2")), actor=actor)
    memory.renderings.clear()
    key_parses.clear()
    registry_traffic(client, lender, loan_agent, agent_token, body, signature)
    assert key_parses == []
