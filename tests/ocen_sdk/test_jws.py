"""Detached JWS (contract §6) against independent implementations: PyJWT and joserfc verify ours; ours
verifies theirs and the OCEN reference client's exact form; every refusal names its reason."""

import base64
import datetime as dt
import hashlib
import hmac
import json

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws as joserfc_jws
from joserfc.jwk import RSAKey
from jwcrypto import jwk

from ocen_sdk import VerificationError, diagnose, sign, verify
from tests.keys import FIXTURES, ec_key, jose4j_detached_signature, private_pem, rsa_key

BODY = (FIXTURES / "create_loan_application_request.json").read_bytes()
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def public_jwk(private_key, kid="k1", **extra) -> dict:
    exported = jwk.JWK.from_pyca(private_key.public_key()).export_public(as_dict=True)
    return {**exported, "kid": kid, "status": "ACTIVE", **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_our_signature_has_the_contract_header():
    signature = sign(BODY, rsa_key("a"), "k1")
    header_b64, payload, _ = signature.split(".")
    assert payload == ""
    assert json.loads(base64.urlsafe_b64decode(header_b64 + "==")) == {
        "alg": "RS256",
        "b64": False,
        "crit": ["b64"],
        "kid": "k1",
    }


def test_pyjwt_verifies_our_signature():
    signature = sign(BODY, rsa_key("a"), "k1")
    decoded = pyjwt.PyJWS().decode_complete(
        signature, rsa_key("a").public_key(), algorithms=["RS256"], detached_payload=BODY
    )
    assert decoded["payload"] == BODY
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.PyJWS().decode_complete(
            signature, rsa_key("a").public_key(), algorithms=["RS256"], detached_payload=BODY + b" "
        )


def test_joserfc_verifies_our_signature():
    signature = sign(BODY, rsa_key("a"), "k1")
    key = RSAKey.import_key(
        rsa_key("a")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert joserfc_jws.deserialize_compact(signature, key, payload=BODY).payload == BODY


def test_we_verify_pyjwt_signatures_with_crit():
    signature = pyjwt.api_jws.encode(
        BODY, rsa_key("a"), algorithm="RS256", headers={"b64": False, "kid": "k1"}, is_payload_detached=True
    )
    assert verify(BODY, signature, [public_jwk(rsa_key("a"))], now=NOW).kid == "k1"


def test_we_verify_the_reference_clients_exact_form():
    """jose4j: b64 false, no crit, no kid — a verifier must cope (ocen-background.md)."""
    signature = jose4j_detached_signature(BODY, rsa_key("a"))
    assert (
        verify(BODY, signature, {"keys": [public_jwk(rsa_key("b"), "other"), public_jwk(rsa_key("a"))]}, now=NOW).kid
        == "k1"
    )


def test_we_verify_an_encoded_detached_payload_when_b64_is_absent():
    key = RSAKey.import_key(private_pem(rsa_key("a")))
    header, _payload, mac = joserfc_jws.serialize_compact({"alg": "RS256", "kid": "k1"}, BODY, key).split(".")
    signature = f"{header}..{mac}"  # RFC 7515 appendix F: detached content, still base64url-encoded for signing
    assert "b64" not in pyjwt.get_unverified_header(signature)
    assert verify(BODY, signature, [public_jwk(rsa_key("a"))], now=NOW).kid == "k1"


def test_es256_round_trip_and_pyjwt_agrees():
    signature = sign(BODY, ec_key("a"), "ec1")
    assert pyjwt.get_unverified_header(signature)["alg"] == "ES256"
    pyjwt.PyJWS().decode_complete(signature, ec_key("a").public_key(), algorithms=["ES256"], detached_payload=BODY)
    assert verify(BODY, signature, [public_jwk(ec_key("a"), "ec1")], now=NOW).kid == "ec1"


def test_private_key_as_pem_or_jwk_signs_the_same_way():
    for key in (private_pem(rsa_key("a")), jwk.JWK.from_pyca(rsa_key("a")).export_private(as_dict=True)):
        verify(BODY, sign(BODY, key, "k1"), [public_jwk(rsa_key("a"))], now=NOW)


def tampered_header() -> str:
    signature = sign(BODY, rsa_key("a"), "k1")
    forged = b64(b'{"alg":"RS256","b64":false,"crit":["b64"],"kid":"k2"}')
    return forged + signature[signature.index(".") :]


def alg_none() -> str:
    return b64(b'{"alg":"none","b64":false,"crit":["b64"]}') + ".."


def retired(until: str) -> list:
    return [public_jwk(rsa_key("a"), status="RETIRED", validUntil=until)]


def hs256_with_public_key_as_secret(body: bytes, public_key) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the verifier's public key."""
    secret = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "b64": False, "crit": ["b64"], "kid": "k1"}).encode())
    mac = hmac.new(secret, header.encode() + b"." + body, hashlib.sha256).digest()
    return f"{header}..{b64(mac)}"


@pytest.mark.parametrize(
    ("make", "keys", "reason"),
    [
        (lambda: sign(BODY, rsa_key("a"), "k1"), lambda: [public_jwk(rsa_key("a"))], None),
        (lambda: sign(BODY + b" ", rsa_key("a"), "k1"), lambda: [public_jwk(rsa_key("a"))], "signature_mismatch"),
        (tampered_header, lambda: [public_jwk(rsa_key("a")), public_jwk(rsa_key("b"), "k2")], "signature_mismatch"),
        (lambda: sign(BODY, rsa_key("b"), "k1"), lambda: [public_jwk(rsa_key("a"))], "signature_mismatch"),
        (lambda: sign(BODY, rsa_key("a"), "k1"), lambda: [public_jwk(rsa_key("a"), status="REVOKED")], "key_revoked"),
        (lambda: sign(BODY, rsa_key("a"), "k9"), lambda: [public_jwk(rsa_key("a"))], "unknown_kid"),
        (alg_none, lambda: [public_jwk(rsa_key("a"))], "algorithm_not_allowed"),
        (
            lambda: hs256_with_public_key_as_secret(BODY, rsa_key("a").public_key()),
            lambda: [public_jwk(rsa_key("a"))],
            "algorithm_not_allowed",
        ),
        (lambda: "not.a.jws.at.all", lambda: [public_jwk(rsa_key("a"))], "malformed_signature"),
        (
            lambda: sign(BODY, rsa_key("a"), "k1").replace("..", ".eyJ9.", 1),
            lambda: [public_jwk(rsa_key("a"))],
            "malformed_signature",
        ),
        (lambda: sign(BODY, rsa_key("a"), "k1"), lambda: retired("2026-11-27T11:00:00Z"), "key_expired"),
        (lambda: sign(BODY, rsa_key("a"), "k1"), lambda: retired("2026-11-27T13:00:00Z"), None),
    ],
    ids=[
        "valid",
        "tampered-body",
        "tampered-header",
        "wrong-key",
        "revoked-key",
        "unknown-kid",
        "alg-none",
        "hs256-public-key",
        "garbage",
        "attached-payload",
        "retired-expired",
        "retired-in-window",
    ],
)
def test_each_refusal_names_its_reason(make, keys, reason):
    signature = make()
    if reason is None:
        assert verify(BODY, signature, keys(), now=NOW).kid == "k1"
    else:
        with pytest.raises(VerificationError) as excinfo:
            verify(BODY, signature, keys(), now=NOW)
        assert excinfo.value.reason == reason
        assert diagnose(BODY, signature, keys(), now=NOW).steps[-1]["ok"] is False


def test_diagnosis_explains_each_step():
    result = diagnose(BODY, jose4j_detached_signature(BODY, rsa_key("a")), [public_jwk(rsa_key("a"))], now=NOW)
    assert [s["check"] for s in result.steps] == ["form", "header", "alg", "b64", "kid", "key status", "signature"]
    assert "crit" in result.steps[3]["detail"] and result.as_json()["valid"] is True


def test_a_withheld_key_verifies_nothing():
    """The registry marks a suspended participant's keys withheld: set-aware verifiers refuse them too."""
    from ocen_sdk import VerificationError

    key = {**public_jwk(rsa_key("a")), "kid": "k1", "status": "ACTIVE"}
    signature = sign(BODY, rsa_key("a"), "k1")
    assert verify(BODY, signature, [key]).kid == "k1"
    with pytest.raises(VerificationError) as refused:
        verify(BODY, signature, [{**key, "withheld": True}])
    assert refused.value.reason == "key_withheld"
