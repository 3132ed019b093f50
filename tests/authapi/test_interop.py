"""Interoperability over real HTTP with independent implementations (contract §4.2, §4.3, §5.1, §6).

- joserfc (the code signs with PyJWT and handles JWKs with jwcrypto) finds the keys through
  discovery alone and verifies tokens.
- The OCEN reference client's wire behaviour: form-encoded token request, issuer discovery,
  GET {registry}/participant-roles/{id} with the bearer token, `publicKey` parsed as a JWK and used
  to verify a detached, unencoded JWS in the reference client's exact form (b64 false, no crit, no kid).
"""

import json

import jwt as pyjwt
import pytest
import requests
from joserfc import jwt as joserfc_jwt
from joserfc.errors import BadSignatureError, InvalidClaimError
from joserfc.jwk import KeySet
from jwcrypto import jwk

from participants import services
from tests.keys import (
    FIXTURES,
    jose4j_detached_signature,
    jose4j_header,
    jose4j_verifies,
    public_pem,
    reference_private_key,
    reference_public_jwk,
    rsa_key,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def registry(live_server, settings):
    settings.OCEN_ISSUER = f"{live_server.url}/auth"
    return live_server.url


@pytest.fixture
def onboarded(registry, actor):
    """The reference client's loan agent (its published key) and a lender, onboarded."""
    agent = services.onboard_participant(
        org_name="Reference Loan Agent",
        role="LOAN_AGENT",
        base_url="https://agent.example.in/ocen",
        public_key=json.dumps(reference_public_jwk()),
        actor=actor,
    )
    lender = services.onboard_participant(
        org_name="Reference Lender",
        role="LENDER",
        base_url="https://lender.example.in/ocen",
        public_key=public_pem(rsa_key("reference-lender")),
        actor=actor,
    )
    return agent, lender


def reference_token_request(token_url: str, credentials) -> str:
    """What the reference client sends: a form-encoded POST with the credentials in the body."""
    response = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.participant.client_id,
            "client_secret": credentials.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["access_token"]


def test_an_independent_library_verifies_our_token_from_discovery_alone(registry, onboarded):
    agent, _lender = onboarded
    issuer = f"{registry}/auth"
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == issuer
    token = reference_token_request(metadata["token_endpoint"], agent)

    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    verified = joserfc_jwt.decode(token, keys, algorithms=["RS256"])
    joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": "ocen"},
        exp={"essential": True},
        nbf={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        sub={"essential": True},
    ).validate(verified.claims)
    claims, participant = verified.claims, agent.participant
    assert verified.header == {"alg": "RS256", "typ": "JWT", "kid": keys.keys[0].kid}
    assert claims["sub"] == claims["participantId"] == str(participant.id)
    assert claims["orgId"] == str(participant.organisation_id) and claims["participantRole"] == "LOAN_AGENT"
    assert claims["azp"] == claims["client_id"] == participant.client_id and claims["scope"] == "ocen"
    assert claims["exp"] - claims["iat"] == 3600

    for wrong in (
        {"aud": {"essential": True, "value": "someone-else"}},
        {"iss": {"essential": True, "value": "https://evil"}},
    ):
        with pytest.raises(InvalidClaimError):
            joserfc_jwt.JWTClaimsRegistry(**wrong).validate(claims)
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(BadSignatureError):
        joserfc_jwt.decode(tampered, keys, algorithms=["RS256"])


def test_rfc8414_metadata_is_found_from_the_issuer(registry):
    metadata = requests.get(f"{registry}/.well-known/oauth-authorization-server/auth", timeout=10).json()
    assert metadata["issuer"] == f"{registry}/auth" and metadata["jwks_uri"] == f"{registry}/auth/certs"


def detached_unencoded_jws(body: bytes) -> str:
    """Sign exactly as the reference client (jose4j) does: RS256, b64 false, no crit, no kid."""
    return jose4j_detached_signature(body, reference_private_key())


def verify_detached(signature: str, body: bytes, public_key_json: str) -> bool:
    """A provider's check with the key from the registry: RFC 7797 signing input over the raw body."""
    assert signature.split(".")[1] == ""
    assert jose4j_header(signature) == {"alg": "RS256", "b64": False}
    return jose4j_verifies(signature, body, jwk.JWK.from_json(public_key_json).get_op_key("verify"))


def test_reference_client_flow_end_to_end(registry, onboarded):
    agent, lender = onboarded
    # The lender receives a createLoanApplication request from the loan agent:
    body = (FIXTURES / "create_loan_application_request.json").read_bytes()
    signature = detached_unencoded_jws(body)
    caller_token = reference_token_request(f"{registry}/auth/token", agent)

    # ... and checks it the way the reference client does: its own token, then the caller's record.
    lender_token = reference_token_request(f"{registry}/auth/token", lender)
    caller_id = pyjwt.decode(caller_token, options={"verify_signature": False})["participantId"]
    response = requests.get(
        f"{registry}/service/participant-roles/{caller_id}",
        headers={"Authorization": f"Bearer {lender_token}"},
        timeout=10,
    )
    assert response.status_code == 200
    record = response.json()
    assert record["id"] == str(agent.participant.id) and record["status"] == "ACTIVE"
    assert verify_detached(signature, body, record["publicKey"])
    assert not verify_detached(signature, body.replace(b"CREATED", b"APPROVED"), record["publicKey"])
