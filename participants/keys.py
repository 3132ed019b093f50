"""
Participant public-key ingestion: parse, check policy, normalise. Pure functions, no ORM.

Accepted input (contract §2), as text or bytes:
- an X.509 certificate, PEM (``-----BEGIN CERTIFICATE-----``) or DER;
- a public key, PEM SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``), PKCS#1
  (``-----BEGIN RSA PUBLIC KEY-----``) or DER SubjectPublicKeyInfo;
- a public JWK as JSON (RFC 7517), or a JWK Set holding exactly one key.

Policy: RSA of at least 2048 bits (RS256, the OCEN algorithm) and at most 8192, with the public exponent
65537 (F4, what every RSA key generator uses) and a modulus anyone could factor refused: a prime factor below
2^16, a square, a prime, or two primes close enough for Fermat's method; EC on P-256 (ES256). Expired
certificates are refused, and so is anything after a PEM block's END line. Input carrying private key
material is refused and never echoed back: the error names the problem, not the content.

The result is a public JWK with ``kid`` (the JWK's own, else its RFC 7638 thumbprint), ``use: sig``
and ``alg``; a SHA-256 fingerprint of the DER SubjectPublicKeyInfo; and certificate facts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto import jwk

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
RSA_EXPONENT = 65537
SMALL_PRIMES_BELOW = 1 << 16


def _product_of_primes_below(limit: int) -> int:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytearray(len(range(n * n, limit, n)))
    return math.prod(n for n in range(limit) if sieve[n])


SMALL_PRIMES = _product_of_primes_below(SMALL_PRIMES_BELOW)  # one gcd tells whether any of them divides
MAX_INPUT_BYTES = 64 * 1024
MAX_KID_LENGTH = 200

PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KID_RE = re.compile(r"^[\x21-\x7e]+$")


class KeyRejected(ValueError):
    """The input is not an acceptable participant public key; the message says why."""


class PrivateKeyMaterial(KeyRejected):
    """The input carries a private key: refused, and never to be shown back or logged."""


class UnsupportedKeyType(KeyRejected):
    """A key of a type or curve no registry accepts (`found` names it)."""

    def __init__(self, message: str, found: str):
        super().__init__(message)
        self.found = found


@dataclass(frozen=True)
class ParsedKey:
    """A participant public key, checked against policy and normalised to a public JWK."""

    jwk: dict
    kid: str
    fingerprint: str
    key_type: str
    alg: str
    key_size: int
    cert_subject: str = ""
    cert_issuer: str = ""
    cert_serial: str = ""
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None


KEY_TYPES = ("RSA", "EC")


def parse_public_key(data: str | bytes, *, now: dt.datetime | None = None, key_types=KEY_TYPES) -> ParsedKey:
    """Parse a certificate, public key PEM/DER or public JWK of one of `key_types` ("RSA", "EC"); raise
    KeyRejected with a clear message."""
    try:
        parsed = _parse(data, now or dt.datetime.now(dt.UTC))
    except UnsupportedKeyType as exc:
        if "EC" in key_types:
            raise
        raise _type_not_accepted(exc.found, key_types) from None
    if parsed.key_type not in key_types:
        raise _type_not_accepted(parsed.key_type, key_types)
    return parsed


def _type_not_accepted(found: str, key_types) -> KeyRejected:
    return KeyRejected(
        f"{found} keys are not accepted by this registry (OCEN_PARTICIPANT_KEY_TYPES allows "
        f"{', '.join(key_types)}): the OCEN reference verifier reads RSA keys only. Register an RSA key of "
        f"{MIN_RSA_BITS} bits or more."
    )


def _parse(data: str | bytes, now: dt.datetime) -> ParsedKey:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise KeyRejected("No public key was given.")
    if len(raw) > MAX_INPUT_BYTES:
        raise KeyRejected(f"The key input is too large ({len(raw)} bytes; at most {MAX_INPUT_BYTES}).")
    if b"PRIVATE KEY" in raw:
        raise _private_material()
    stripped = raw.strip()
    if stripped.startswith(b"{"):
        return _from_jwk_json(stripped)
    if stripped.startswith(b"-----BEGIN"):
        return _from_pem(stripped, now)
    return _from_der(raw, now)


def fingerprint_of(public_key) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def format_fingerprint(fingerprint: str) -> str:
    """Colon-separated upper-case pairs, the way certificate tools print fingerprints."""
    return ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()


def fingerprint_fragment(text: str) -> str | None:
    """A stored fingerprint's part (lowercase hex) typed in any format printed (`7E:8C:…`, `7e8c…`); None if
    the text is no such thing."""
    hexes = re.sub(r"[\s:]", "", text.strip().rstrip("…")).lower()
    return hexes if len(hexes) >= 4 and re.fullmatch(r"[0-9a-f]+", hexes) else None


def _private_material() -> KeyRejected:
    return PrivateKeyMaterial(
        "This input contains private key material. Register only the public key: "
        "the private key must never leave your systems. Nothing was stored."
    )


def _unrecognised() -> KeyRejected:
    return KeyRejected(
        "Not a recognised public key. Expected an X.509 certificate (PEM), "
        "a public key (PEM, BEGIN PUBLIC KEY) or a public JWK (JSON)."
    )


def _from_pem(pem: bytes, now: dt.datetime) -> ParsedKey:
    end = re.search(rb"-----END [A-Z ]+-----", pem)
    if end is None or pem[end.end() :].strip() or pem.count(b"-----BEGIN") != 1:
        raise KeyRejected(
            "The PEM input must be exactly one PEM block (of a certificate chain, only the participant's own "
            "certificate), with nothing after its END line."
        )
    if pem.startswith(b"-----BEGIN CERTIFICATE-----"):
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise KeyRejected("The certificate PEM could not be read: it is damaged or incomplete.") from None
        return _from_certificate(cert, now)
    if pem.startswith((b"-----BEGIN PUBLIC KEY-----", b"-----BEGIN RSA PUBLIC KEY-----")):
        try:
            public_key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            raise KeyRejected("The public key PEM could not be read: it is damaged or incomplete.") from None
        return _from_public_key(public_key)
    raise _unrecognised()


def _from_der(der: bytes, now: dt.datetime) -> ParsedKey:
    try:
        serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, NotImplementedError):
        pass
    else:
        raise _private_material()
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        pass
    else:
        return _from_certificate(cert, now)
    try:
        public_key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, NotImplementedError):
        raise _unrecognised() from None
    return _from_public_key(public_key)


# RFC 5280 §4.1.2.5: a notAfter of 99991231235959Z means "no well-defined expiration date".
NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def expiry(moment: dt.datetime | None) -> dt.datetime | None:
    """A validity end as the registry keeps it: None for RFC 5280's "never expires" (and anything later)."""
    return None if moment is None or moment >= NO_EXPIRY else moment


def _from_certificate(cert: x509.Certificate, now: dt.datetime) -> ParsedKey:
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not_after <= not_before:
        raise KeyRejected("The certificate's validity period is empty (notAfter is not after notBefore).")
    if not_after <= now:
        raise KeyRejected(
            f"The certificate expired on {not_after:%Y-%m-%d %H:%M} UTC. Ask the participant for a current certificate."
        )
    try:
        public_key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        raise KeyRejected("The certificate's public key could not be read.") from None
    parsed = _from_public_key(public_key)
    return ParsedKey(
        **{
            **parsed.__dict__,
            "cert_subject": cert.subject.rfc4514_string(),
            "cert_issuer": cert.issuer.rfc4514_string(),
            "cert_serial": format(cert.serial_number, "x"),
            "not_before": not_before,
            "not_after": expiry(not_after),
        }
    )


def _from_public_key(public_key, *, declared: dict | None = None) -> ParsedKey:
    key_type, alg, size = _check_policy(public_key)
    declared = declared or {}
    if "use" in declared and declared["use"] != "sig":
        raise KeyRejected(f'The JWK says "use": {declared["use"]!r}; OCEN keys sign, so it must be "sig".')
    if "alg" in declared and declared["alg"] != alg:
        raise KeyRejected(f'The JWK says "alg": {declared["alg"]!r}; a {key_type} key here must use {alg}.')
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = jwk.JWK.from_pem(pem)
    public_jwk = json.loads(key.export_public())
    kid = declared.get("kid") or key.thumbprint()
    _check_kid(kid)
    public_jwk.update({"kid": kid, "use": "sig", "alg": alg})
    return ParsedKey(
        jwk=public_jwk,
        kid=kid,
        fingerprint=fingerprint_of(public_key),
        key_type=key_type,
        alg=alg,
        key_size=size,
    )


FERMAT_STEPS = 200  # a modulus whose two primes are this close is factored at once by Fermat's method


def _modulus_problem(n: int) -> str | None:
    """What makes `n` a modulus anyone can factor, besides a small factor: prime, a square, or two primes so close
    that Fermat's method finds them in FERMAT_STEPS steps."""
    root = math.isqrt(n)
    if root * root == n:
        return "is a perfect square"
    if all(pow(base, n - 1, n) == 1 for base in (2, 3, 5, 7, 11, 13)) and _miller_rabin(n):
        return "is prime"
    a = root + 1
    for _ in range(FERMAT_STEPS):
        b = math.isqrt(a * a - n)
        if b * b == a * a - n:
            return "is the product of two primes too close to each other"
        a += 1
    return None


def _miller_rabin(n: int) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for base in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _check_rsa(public_key: rsa.RSAPublicKey) -> tuple[str, str, int]:
    size = public_key.key_size
    if size < MIN_RSA_BITS:
        raise KeyRejected(f"RSA keys must be at least {MIN_RSA_BITS} bits; this one has {size}.")
    if size > MAX_RSA_BITS:
        raise KeyRejected(f"RSA keys may be at most {MAX_RSA_BITS} bits; this one has {size}.")
    numbers = public_key.public_numbers()
    if numbers.e != RSA_EXPONENT:
        shown = numbers.e if numbers.e.bit_length() <= 64 else f"a {numbers.e.bit_length()}-bit number"
        raise KeyRejected(f"The RSA public exponent must be {RSA_EXPONENT}; this key's is {shown}.")
    if numbers.n % 2 == 0:
        raise KeyRejected("The RSA modulus is even: this is not a usable RSA key.")
    if problem := _modulus_problem(numbers.n):
        raise KeyRejected(f"The RSA modulus {problem}: this is not a usable RSA key.")
    if math.gcd(numbers.n, SMALL_PRIMES) != 1:
        raise KeyRejected(
            f"The RSA modulus has a prime factor below {SMALL_PRIMES_BELOW}: this is not a usable RSA key."
        )
    return "RSA", "RS256", size


def _check_policy(public_key) -> tuple[str, str, int]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return _check_rsa(public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise UnsupportedKeyType(
                f"EC keys must use the P-256 curve (ES256); this one uses {public_key.curve.name}.",
                f"EC {public_key.curve.name}",
            )
        return "EC", "ES256", 256
    kind = type(public_key).__name__.removeprefix("_").replace("PublicKey", "") or "unknown"
    raise UnsupportedKeyType(f"Unsupported key type ({kind}). Use RSA (2048 bits or more) or EC P-256.", kind)


def _check_kid(kid) -> None:
    if not isinstance(kid, str) or not _KID_RE.match(kid) or len(kid) > MAX_KID_LENGTH:
        raise KeyRejected(f"The key id (kid) must be 1 to {MAX_KID_LENGTH} printable ASCII characters without spaces.")


def _from_jwk_json(text: bytes) -> ParsedKey:
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise KeyRejected("The JWK is not valid JSON.") from None
    if not isinstance(document, dict):
        raise _unrecognised()
    jwk_document = _only_key_of_set(document["keys"]) if "keys" in document else document
    if PRIVATE_JWK_MEMBERS & jwk_document.keys():
        raise _private_material()
    declared = {k: jwk_document[k] for k in ("kid", "use", "alg") if k in jwk_document}
    return _from_public_key(_public_key_of_jwk(jwk_document), declared=declared)


def _only_key_of_set(keys) -> dict:
    """The one key of a JWK Set: a set of several is refused (one key per registration)."""
    if not isinstance(keys, list) or not keys:
        raise KeyRejected("The JWK Set holds no keys.")
    if any(isinstance(k, dict) and PRIVATE_JWK_MEMBERS & k.keys() for k in keys):
        raise _private_material()
    if len(keys) != 1 or not isinstance(keys[0], dict):
        raise KeyRejected(f"The JWK Set holds {len(keys)} keys; register them one at a time.")
    return keys[0]


def _public_key_of_jwk(document: dict):
    """The cryptography key of a public JWK of a supported type (RSA, or EC on P-256)."""
    kty = document.get("kty")
    if kty not in {"RSA", "EC"}:
        raise UnsupportedKeyType(
            f"Unsupported JWK key type {kty!r}. Use RSA (2048 bits or more) or EC P-256.", str(kty)
        )
    if kty == "EC" and document.get("crv") != "P-256":
        raise UnsupportedKeyType(
            f"EC keys must use the P-256 curve (ES256); this one uses {document.get('crv')!r}.",
            f"EC {document.get('crv')}",
        )
    try:
        key = jwk.JWK(**{k: v for k, v in document.items() if k in {"kty", "n", "e", "crv", "x", "y"}})
        return key.get_op_key("verify")
    except Exception:  # jwcrypto raises many types for malformed members
        raise KeyRejected("The JWK's key members (n and e, or crv, x and y) are missing or malformed.") from None
