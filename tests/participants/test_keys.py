"""Key ingestion (contract §2): accepted formats, normalisation, and each refusal with its message."""

import base64
import datetime as dt
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from participants.keys import KeyRejected, parse_public_key
from tests.keys import (
    certificate_pem,
    ec_key,
    private_pem,
    public_pem,
    reference_key_set,
    reference_public_jwk,
    rsa_key,
)

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def der_spki(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_public_key_pem_is_normalised_to_a_public_jwk_with_thumbprint_kid():
    parsed = parse_public_key(public_pem(rsa_key("a")), now=NOW)
    assert parsed.key_type == "RSA" and parsed.alg == "RS256" and parsed.key_size == 2048
    assert set(parsed.jwk) == {"kty", "n", "e", "kid", "use", "alg"}
    assert parsed.jwk["use"] == "sig"
    # The kid is the RFC 7638 thumbprint, as an independent library computes it.
    from jwcrypto import jwk as jwcrypto_jwk

    assert parsed.kid == jwcrypto_jwk.JWK.from_pem(public_pem(rsa_key("a"))).thumbprint()
    # PyJWT, a different JOSE implementation, reads the stored JWK as the same public key.
    other = jwt.PyJWK.from_dict(parsed.jwk).key
    assert other.public_numbers() == rsa_key("a").public_key().public_numbers()


def test_pkcs1_rsa_public_key_pem_is_accepted():
    pkcs1 = rsa_key("a").public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert (
        parse_public_key(pkcs1, now=NOW).fingerprint == parse_public_key(public_pem(rsa_key("a")), now=NOW).fingerprint
    )


def test_der_public_key_is_accepted():
    assert (
        parse_public_key(der_spki(rsa_key("a")), now=NOW).kid == parse_public_key(public_pem(rsa_key("a")), now=NOW).kid
    )


def test_fingerprint_is_sha256_of_the_subject_public_key_info():
    import hashlib

    parsed = parse_public_key(public_pem(rsa_key("a")), now=NOW)
    assert parsed.fingerprint == hashlib.sha256(der_spki(rsa_key("a"))).hexdigest()


def test_certificate_gives_key_and_certificate_facts():
    pem = certificate_pem(rsa_key("a"), not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=365))
    parsed = parse_public_key(pem, now=NOW)
    assert parsed.fingerprint == parse_public_key(public_pem(rsa_key("a")), now=NOW).fingerprint
    assert parsed.cert_subject == "C=IN,CN=lender.example.in"
    assert parsed.cert_issuer == "C=IN,CN=lender.example.in"
    assert parsed.cert_serial == "1d2c3b4a"
    assert parsed.not_after == NOW + dt.timedelta(days=365)


def test_reference_client_public_jwk_without_kid_is_accepted():
    public = reference_public_jwk()
    parsed = parse_public_key(json.dumps(public), now=NOW)
    assert parsed.jwk["n"] == public["n"] and parsed.jwk["e"] == "AQAB"
    assert parsed.kid  # derived: the sample key carries none


def test_jwk_own_kid_is_kept():
    parsed = parse_public_key(json.dumps({**reference_public_jwk(), "kid": "agent-2026-11"}), now=NOW)
    assert parsed.kid == "agent-2026-11"


def test_jwk_set_with_one_public_key_is_accepted():
    parsed = parse_public_key(json.dumps({"keys": [reference_public_jwk()]}), now=NOW)
    assert parsed.jwk["n"] == reference_public_jwk()["n"]


def test_ec_p256_key_is_accepted_for_es256():
    parsed = parse_public_key(public_pem(ec_key("a")), now=NOW)
    assert parsed.key_type == "EC" and parsed.alg == "ES256" and parsed.jwk["crv"] == "P-256"


def a_prime() -> int:
    """A 1024-bit prime: one of a real key's two."""
    return rsa_key("a").private_numbers().p


def next_prime(n: int) -> int:
    from participants.keys import _miller_rabin

    candidate = n + 2
    while not _miller_rabin(candidate):
        candidate += 2
    return candidate


def b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def even_modulus() -> str:
    """The reference key's modulus with its lowest bit cleared: the size of a real key, but even."""
    import base64

    n = int.from_bytes(base64.urlsafe_b64decode(reference_public_jwk()["n"] + "=="), "big") & ~1
    return base64.urlsafe_b64encode(n.to_bytes(256, "big")).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda: public_pem(rsa_key("short", 1024)), "RSA keys must be at least 2048 bits; this one has 1024."),
        (
            lambda: certificate_pem(
                rsa_key("a"),
                not_before=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
                not_after=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            ),
            "The certificate expired on 2024-01-01 00:00 UTC.",
        ),
        (lambda: private_pem(rsa_key("a")), "contains private key material"),
        (lambda: json.dumps(reference_key_set()), "contains private key material"),
        (lambda: json.dumps(reference_key_set()["keys"][0]), "contains private key material"),
        (
            lambda: rsa_key("a").private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "contains private key material",
        ),
        (lambda: "certainly not a key", "Not a recognised public key."),
        (lambda: b"\x00\xff\x10garbage", "Not a recognised public key."),
        (lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "public key PEM could not be read"),
        (lambda: "{not json", "The JWK is not valid JSON."),
        (
            lambda: public_pem(ec_key("p384", "secp384r1")),
            "EC keys must use the P-256 curve (ES256); this one uses secp384r1.",
        ),
        (lambda: json.dumps({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}), "EC keys must use the P-256 curve"),
        (lambda: public_pem(ed25519.Ed25519PrivateKey.generate()), "Unsupported key type (Ed25519)."),
        (lambda: json.dumps({"kty": "oct", "k": "c2VjcmV0"}), "contains private key material"),
        (lambda: json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "AA"}), "Unsupported JWK key type 'OKP'."),
        (lambda: json.dumps({**reference_public_jwk(), "use": "enc"}), 'it must be "sig"'),
        (lambda: json.dumps({**reference_public_jwk(), "alg": "RS512"}), "must use RS256"),
        (lambda: json.dumps({**reference_public_jwk(), "kid": "has space"}), "The key id (kid) must be"),
        (lambda: json.dumps({"kty": "RSA", "n": "!!", "e": "AQAB"}), "missing or malformed"),
        (lambda: json.dumps({"keys": []}), "The JWK Set holds no keys."),
        (lambda: "", "No public key was given."),
        (lambda: "{" + " " * 70000 + "}", "too large"),
        (lambda: public_pem(rsa_key("e3", exponent=3)), "public exponent must be 65537; this key's is 3"),
        (lambda: json.dumps({**reference_public_jwk(), "e": "Aw"}), "public exponent must be 65537; this key's is 3"),
        (
            lambda: json.dumps({**reference_public_jwk(), "e": "AQAD"}),
            "public exponent must be 65537; this key's is 65539",
        ),
        (
            lambda: json.dumps({**reference_public_jwk(), "e": b64url_int(2**1000 + 1)}),
            "public exponent must be 65537; this key's is a 1001-bit number",
        ),
        (
            lambda: json.dumps({**reference_public_jwk(), "n": b64url_int(3 * ((1 << 2046) + 1))}),
            "The RSA modulus has a prime factor below 65536",
        ),
        (
            lambda: json.dumps({**reference_public_jwk(), "n": b64url_int(65521 * ((1 << 2040) + 1))}),
            "The RSA modulus has a prime factor below 65536",
        ),
        (lambda: json.dumps({**reference_public_jwk(), "n": b64url_int(a_prime() ** 2)}), "is a perfect square"),
        (
            lambda: json.dumps({**reference_public_jwk(), "n": b64url_int(a_prime() * next_prime(a_prime()))}),
            "is the product of two primes too close to each other",
        ),
        (lambda: json.dumps({**reference_public_jwk(), "n": even_modulus()}), "The RSA modulus is even"),
        (lambda: public_pem(rsa_key("a")) + b"trailing garbage", "nothing after its END line"),
        (lambda: public_pem(rsa_key("a")) + public_pem(rsa_key("b")), "exactly one PEM block"),
    ],
    ids=[
        "short-rsa",
        "expired-cert",
        "private-pem",
        "private-jwk-set",
        "private-jwk-with-d",
        "private-der",
        "garbage-text",
        "garbage-bytes",
        "damaged-pem",
        "broken-json",
        "wrong-curve",
        "wrong-curve-jwk",
        "ed25519",
        "symmetric-jwk",
        "okp-jwk",
        "jwk-use-enc",
        "jwk-alg-mismatch",
        "bad-kid",
        "malformed-members",
        "empty-set",
        "empty",
        "oversized",
        "rsa-exponent-3",
        "rsa-exponent-3-jwk",
        "rsa-exponent-65539",
        "rsa-exponent-2^1000+1",
        "rsa-modulus-factor-3",
        "rsa-modulus-factor-65521",
        "rsa-modulus-square",
        "rsa-modulus-close-primes",
        "rsa-even-modulus",
        "pem-trailing-garbage",
        "two-pem-blocks",
    ],
)
def test_refusals_say_why(make_input, message):
    with pytest.raises(KeyRejected) as excinfo:
        parse_public_key(make_input(), now=NOW)
    assert message in str(excinfo.value)


def test_refusal_of_private_material_never_echoes_it():
    private = reference_key_set()["keys"][0]
    with pytest.raises(KeyRejected) as excinfo:
        parse_public_key(json.dumps(private), now=NOW)
    assert private["d"][:16] not in str(excinfo.value)
    assert private["n"][:16] not in str(excinfo.value)


def test_a_certificate_that_never_expires_gives_a_key_without_an_end():
    """RFC 5280 §4.1.2.5: notAfter 99991231235959Z means "no well-defined expiration date"."""
    forever = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    parsed = parse_public_key(certificate_pem(rsa_key("a"), not_before=NOW, not_after=forever), now=NOW)
    assert parsed.not_after is None and parsed.not_before == NOW.replace(microsecond=0)


def test_a_jwk_nested_deeper_than_python_can_parse_is_refused_plainly():
    deep = '{"kty": "RSA", "x": ' + "[" * 1500 + "]" * 1500 + "}"
    with pytest.raises(KeyRejected, match="not valid JSON"):
        parse_public_key(deep, now=NOW)


@pytest.mark.parametrize(
    "make_input, found",
    [
        (lambda: public_pem(ec_key("p256", "secp256r1")), "EC keys"),
        (lambda: public_pem(ec_key("p384", "secp384r1")), "EC secp384r1 keys"),
        (lambda: public_pem(ed25519.Ed25519PrivateKey.generate()), "Ed25519 keys"),
        (lambda: json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "AA"}), "OKP keys"),
    ],
    ids=["p256", "p384", "ed25519", "okp-jwk"],
)
def test_a_registry_that_accepts_rsa_only_says_so_whatever_the_other_key(make_input, found):
    with pytest.raises(KeyRejected) as excinfo:
        parse_public_key(make_input(), now=NOW, key_types=("RSA",))
    assert f"{found} are not accepted by this registry" in str(excinfo.value)
    assert "Register an RSA key" in str(excinfo.value) and "P-256" not in str(excinfo.value)
