"""
OCEN message signatures (contract §6): detached JWS with an unencoded payload (RFC 7515, RFC 7797).

`sign` produces the strict form: ``{"alg": "RS256", "kid": …, "b64": false, "crit": ["b64"]}``,
``BASE64URL(header) + ".." + BASE64URL(signature)`` over the exact body bytes.

`verify` is lenient in form, as real participants send it: `crit` may be missing (the OCEN reference
client omits it); `b64` may be absent (the payload was then base64url-encoded for signing); `kid` may
be missing (every usable key is tried). It is strict on what matters: only RS256 and ES256 (never
`none` or HMAC), and key status — REVOKED never verifies, RETIRED only inside its validity window, and
no key the registry marks `withheld` (its participant is suspended).

`diagnose` runs the same checks and reports each one, for people debugging a signature.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypedDict, cast

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto import jwk, jws
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError

from .errors import VerificationError

ALLOWED_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
# PyJWT's implementations of the two algorithms (signature checks, key loading from JWKs).
ALGORITHMS = {name: get_default_algorithms()[name] for name in ALLOWED_ALGORITHMS}
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/", b"+/-_")  # '+' and '/' become invalid, as they are in base64url
KEY_MEMBERS = ("kty", "n", "e", "crv", "x", "y")

# A JSON object as parsed (a JWK, a JOSE header, a registry record): its members are whatever the sender wrote.
JSONObject: TypeAlias = dict[str, Any]
# A parsed verification key: RS256 verifies with an RSA public key, ES256 with an EC one.
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
# What sign() takes: a PEM or JWK JSON (bytes or str), a JWK dict, a cryptography RSA or EC private key, a jwcrypto JWK.
PrivateKeyLike: TypeAlias = jwk.JWK | JSONObject | bytes | str | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# Where verify() and diagnose() find the signer's keys: a JWKS ({"keys": [...]}), a list of JWKs, one JWK, or any of
# these as JSON text. Each key may carry the registry's status, validity and withheld members.
KeySet: TypeAlias = JSONObject | list[JSONObject] | tuple[JSONObject, ...] | str | bytes


def _b64decode(segment: str) -> bytes:
    """base64url without padding, strictly: any character outside the alphabet is an error."""
    data = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET) + b"=" * (-len(segment) % 4)
    return binascii.a2b_base64(data, strict_mode=True)


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@functools.lru_cache(maxsize=4096)
def _public_key(alg: str, material: tuple[tuple[str, Any], ...]) -> PublicKey:
    """A verification key object, parsed once per process for each distinct JWK (its key members)."""
    # Public: KEY_MEMBERS holds no private member ("d"), so PyJWT builds the public key.
    public: PublicKey = ALGORITHMS[alg].from_jwk(dict(material))
    return public


def public_key_of(alg: str, key: JSONObject) -> PublicKey | None:
    """The parsed public key of a JWK dict for `alg` (cached), or None when it is not such a key."""
    if ALLOWED_ALGORITHMS.get(alg) != key.get("kty"):
        return None
    try:
        return _public_key(alg, tuple((name, key[name]) for name in KEY_MEMBERS if name in key))
    except (InvalidKeyError, ValueError, TypeError, KeyError):
        return None


def signature_verifies(alg: str, public_key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        return ALGORITHMS[alg].verify(signing_input, public_key, signature)
    except (ValueError, TypeError):
        return False


def header_of(signature: object) -> JSONObject | None:
    """The decoded JOSE header of a compact JWS, or None when it is not one."""
    if not isinstance(signature, str):
        return None
    try:
        header = json.loads(_b64decode(signature.split(".")[0]))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def compact_jwt(token: object) -> tuple[JSONObject, object, bytes, bytes] | None:
    """A compact JWS's header (a JSON object), payload (parsed JSON, of any type), signing input and
    signature, each segment strict base64url; None when it is not one. Nothing is verified."""
    parts = token.split(".") if isinstance(token, str) else []
    header = header_of(token) if len(parts) == 3 else None
    if header is None:
        return None
    try:
        payload, signature = json.loads(_b64decode(parts[1])), _b64decode(parts[2])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def load_private_key(key: PrivateKeyLike) -> jwk.JWK:
    """A jwcrypto JWK from a PEM (bytes or str), a JWK dict/JSON, a cryptography key or a JWK."""
    if isinstance(key, jwk.JWK):
        return key
    if isinstance(key, dict):
        return jwk.JWK(**key)
    if isinstance(key, bytes | str):
        text = key.decode() if isinstance(key, bytes) else key
        return jwk.JWK.from_json(text) if text.lstrip().startswith("{") else jwk.JWK.from_pem(text.encode())
    return jwk.JWK.from_pyca(key)


def sign(body: bytes, private_key: PrivateKeyLike, kid: str | None = None) -> str:
    """The detached, unencoded JWS of `body`: RS256 for an RSA key, ES256 for an EC P-256 key."""
    key = load_private_key(private_key)
    if not key.has_private:
        raise ValueError("Signing needs a private key.")
    alg = "ES256" if key.get("kty") == "EC" else "RS256"
    header: dict[str, object] = {"alg": alg, "b64": False, "crit": ["b64"]}
    if kid or key.get("kid"):
        header["kid"] = kid or key.get("kid")
    signer = jws.JWS(body)
    signer.add_signature(key, None, json.dumps(header, separators=(",", ":")))
    signer.detach_payload()
    return signer.serialize(compact=True)


@dataclass(frozen=True)
class VerifiedKey:
    """The key that verified a signature."""

    kid: str | None
    status: str
    jwk: JSONObject
    header: JSONObject


class Step(TypedDict):
    """One check of a Diagnosis: its name, whether it passed, and what it found."""

    check: str
    ok: bool
    detail: str


class DiagnosisJSON(TypedDict):
    """Diagnosis.as_json(): the verdict, the kid that verified, each step, and the warnings."""

    valid: bool
    reason: str | None
    matchedKid: str | None
    steps: list[Step]
    warnings: list[str]


@dataclass
class Diagnosis:
    """Each check made on a signature, in order; `reason` is set when it does not verify."""

    steps: list[Step] = field(default_factory=list)
    verified: VerifiedKey | None = None
    reason: str | None = None
    # What may still go wrong elsewhere although the signature verifies here (set-aware verifiers accept it).
    warnings: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.steps.append({"check": name, "ok": ok, "detail": detail})
        return ok

    def fail(self, reason: str, name: str, detail: str) -> Diagnosis:
        self.check(name, False, detail)
        self.reason = reason
        return self

    def as_json(self) -> DiagnosisJSON:
        return {
            "valid": self.verified is not None,
            "reason": self.reason,
            "matchedKid": self.verified.kid if self.verified else None,
            "steps": self.steps,
            "warnings": self.warnings,
        }


def normalise_keys(keys: object) -> list[JSONObject]:
    """Keys as a list of JWK dicts (with optional status and validity), from a JWKS, list, JWK or JSON text;
    anything else holds no key."""
    if isinstance(keys, str | bytes):
        try:
            keys = json.loads(keys)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return []
    if isinstance(keys, dict):
        keys = keys.get("keys", [keys])
    return [k for k in keys if isinstance(k, dict)] if isinstance(keys, list | tuple) else []


@functools.lru_cache(maxsize=4096)
def _parse_instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _parse_time(value: object) -> dt.datetime | None:
    return _parse_instant(str(value)) if value else None


USABLE_STATUSES = ("ACTIVE", "RETIRED")
# A validity window that cannot be read counts as closed: it opens never.
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)


def unusable_because(
    *,
    status: str,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    now: dt.datetime,
    withheld: bool = False,
) -> str:
    """Why a verifier may not accept signatures by a key at `now`, or "" when it may: the key-usability
    rule, for the registry's own key rows (ParticipantKey.is_usable_at) and for a verifier's copy of them.

    Revoked (or of a status it does not know) never; withheld (its participant is suspended) never;
    otherwise inside its validity window [valid_from, valid_until)."""
    if status not in USABLE_STATUSES:
        return "key_revoked"
    if withheld:
        return "key_withheld"
    if (valid_from and now < valid_from) or (valid_until and now >= valid_until):
        return "key_expired"
    return ""


class _KeyFacts(TypedDict):
    status: str
    withheld: bool
    now: dt.datetime


def _unusable_jwk(key: JSONObject, now: dt.datetime) -> str:
    """unusable_because for a published JWK: its `status`, `withheld`, `validFrom` and `validUntil` members."""
    facts: _KeyFacts = {"status": key.get("status", "ACTIVE"), "withheld": key.get("withheld") is True, "now": now}
    try:
        return unusable_because(
            **facts, valid_from=_parse_time(key.get("validFrom")), valid_until=_parse_time(key.get("validUntil"))
        )
    except (ValueError, TypeError, OverflowError):  # a window that cannot be read (or compared) counts as closed
        return unusable_because(**facts, valid_from=_NEVER, valid_until=None)


_NOT_PRIMARY = (
    "Key {kid!r} is not the signer's primary key (the record's publicKey): verifiers that read only publicKey, "
    "as the OCEN reference client does, refuse this signature. Sign with the primary key, or make this one primary."
)


class _Refused(Exception):
    """A check failed: the signature does not verify, for `reason`."""

    def __init__(self, reason: str, check: str, detail: str):
        super().__init__(reason)
        self.reason, self.check, self.detail = reason, check, detail


def diagnose(
    body: bytes, signature: str, keys: KeySet, *, now: dt.datetime | None = None, explain: bool = True
) -> Diagnosis:
    """Check a detached JWS over `body` against `keys`, step by step; each step is recorded in order and
    the first that fails ends the diagnosis."""
    result = Diagnosis()
    try:
        body = _exact_bytes(body)
        header_segment, signature_segment = _detached_form(result, signature)
        header = _decoded_header(result, header_segment, explain)
        alg, b64, kid = _header_parameters(result, header)
        usable = _usable_keys(result, _signers_keys(result, normalise_keys(keys), kid), now or dt.datetime.now(dt.UTC))
        # RFC 7797: with b64 false the body bytes are signed as they are; otherwise base64url-encoded.
        signing_input = header_segment.encode("ascii") + b"." + (body if b64 is False else _b64encode(body))
        result.verified = _verifying_key(result, alg, usable, signing_input, signature_segment, header, len(body))
        if result.verified.jwk.get("primary") is False:
            result.warnings.append(_NOT_PRIMARY.format(kid=result.verified.kid))
    except _Refused as refusal:
        result.fail(refusal.reason, refusal.check, refusal.detail)
    return result


def _exact_bytes(body: object) -> bytes:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise _Refused("malformed_body", "body", "The body must be the exact bytes received.")
    return bytes(body)


def _detached_form(result: Diagnosis, signature: object) -> tuple[str, str]:
    """The header and signature segments of a detached compact JWS (header..signature)."""
    if not isinstance(signature, str):
        raise _Refused("malformed_signature", "form", "The signature must be text: a compact JWS.")
    parts = signature.strip().split(".")
    if len(parts) != 3:
        raise _Refused("malformed_signature", "form", "A compact JWS has three dot-separated parts.")
    if parts[1]:
        raise _Refused(
            "malformed_signature", "form", "The payload part must be empty: OCEN signatures are detached (header..sig)."
        )
    result.check("form", True, "Detached compact JWS (header..signature).")
    return parts[0], parts[2]


def _decoded_header(result: Diagnosis, segment: str, explain: bool) -> JSONObject:
    header = header_of(segment)
    if header is None:
        raise _Refused("malformed_signature", "header", "The header is not base64url-encoded JSON.")
    result.check("header", True, f"Header: {json.dumps(header, sort_keys=True)}" if explain else "Header parsed.")
    return header


def _header_parameters(result: Diagnosis, header: JSONObject) -> tuple[str, bool, str | None]:
    """alg (allowed), b64 (RFC 7797, with the crit it may be listed in) and kid, each of its type."""
    alg = _allowed_alg(result, header.get("alg"))
    crit, b64 = _payload_encoding(header.get("crit", []), header.get("b64", True))
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _Refused("malformed_signature", "kid", f"kid must be a string, not {kid!r}.")
    if b64 is False:
        note = "" if "b64" in crit else ' (crit ["b64"] is missing, as the OCEN reference client sends it: accepted)'
        result.check("b64", True, f"Unencoded payload (b64 false){note}.")
    else:
        result.check("b64", True, "b64 absent: the payload was base64url-encoded for signing.")
    return alg, b64, kid


def _allowed_alg(result: Diagnosis, alg: object) -> str:
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise _Refused(
            "algorithm_not_allowed", "alg", f"alg {alg!r} is not allowed; use RS256 (or ES256 for an EC key)."
        )
    result.check("alg", True, f"alg {alg} is allowed.")
    return alg


def _payload_encoding(crit: object, b64: object) -> tuple[list[str], bool]:
    """crit may list b64 and nothing else; b64 is a boolean."""
    if not isinstance(crit, list) or not all(isinstance(name, str) for name in crit) or set(crit) - {"b64"}:
        raise _Refused("malformed_signature", "crit", f"Unsupported critical header parameters: {crit!r}.")
    if not isinstance(b64, bool):
        raise _Refused("malformed_signature", "b64", f"b64 must be true or false, not {b64!r}.")
    return crit, b64


def _signers_keys(result: Diagnosis, candidates: list[JSONObject], kid: str | None) -> list[JSONObject]:
    """The keys the signature names (by kid), or all the signer's keys when it names none."""
    if kid is None:
        result.check("kid", True, f"No kid: trying each of the signer's {len(candidates)} key(s).")
        return candidates
    named = [k for k in candidates if k.get("kid") == kid]
    if not named:
        raise _Refused("unknown_kid", "kid", f"No key with kid {kid!r} among the signer's keys.")
    result.check("kid", True, f"kid {kid!r} is one of the signer's keys ({named[0].get('status', 'ACTIVE')}).")
    return named


REFUSED_KEY_DETAILS = {
    "key_revoked": "The key is REVOKED.",
    "key_expired": "The key is outside its validity window.",
    "key_withheld": "The registry withholds the key: its participant is suspended or was rejected.",
}
# Each reason a diagnosis can end with, in words (for people; the code is for programs).
REASONS = {
    "malformed_body": "the body is not the exact bytes received",
    "malformed_signature": "the signature is not a detached compact JWS",
    "algorithm_not_allowed": "it uses an algorithm OCEN does not allow",
    "unknown_kid": "no key of the signer has its kid",
    "key_revoked": "the key that would verify it is revoked",
    "key_expired": "the key that would verify it is outside its validity",
    "key_withheld": "the signer's keys are withheld (suspended or rejected)",
    "signature_mismatch": "no usable key verifies it over these exact bytes",
}


def _usable_keys(result: Diagnosis, candidates: list[JSONObject], now: dt.datetime) -> list[JSONObject]:
    refusals = [_unusable_jwk(key, now) for key in candidates]
    usable = [key for key, refusal in zip(candidates, refusals, strict=True) if not refusal]
    if not usable:
        reason = refusals[0] if refusals else "unknown_kid"
        raise _Refused(reason, "key status", REFUSED_KEY_DETAILS.get(reason, "No key to verify with."))
    result.check("key status", True, f"{len(usable)} usable key(s).")
    return usable


def _verifying_key(
    result: Diagnosis,
    alg: str,
    usable: list[JSONObject],
    signing_input: bytes,
    segment: str,
    header: JSONObject,
    size: int,
) -> VerifiedKey:
    """The first usable key whose signature over the signing input is the one given."""
    try:
        signature_bytes = _b64decode(segment)
    except ValueError:
        raise _Refused("malformed_signature", "signature", "The signature part is not base64url.") from None
    for key in usable:
        public = public_key_of(alg, key)
        if public is not None and signature_verifies(alg, public, signing_input, signature_bytes):
            result.check("signature", True, f"Verified with key {key.get('kid')!r} over {size} body bytes.")
            return VerifiedKey(kid=key.get("kid"), status=key.get("status", "ACTIVE"), jwk=key, header=header)
    raise _Refused(
        "signature_mismatch",
        "signature",
        "No usable key verifies this signature over these exact body bytes (re-serialised JSON, a different "
        "key, or a body changed after signing are the usual causes).",
    )


def verify(body: bytes, signature: str, keys: KeySet, *, now: dt.datetime | None = None) -> VerifiedKey:
    """The key that verifies `signature` over `body`; raises VerificationError with a machine-readable reason."""
    result = diagnose(body, signature, keys, now=now, explain=False)
    if result.verified is None:  # the full explanation, for the error (a failure's cost does not matter)
        result = diagnose(body, signature, keys, now=now)
    if result.verified is None:  # then a step failed, and set the reason
        raise VerificationError(cast(str, result.reason), result.steps[-1]["detail"])
    return result.verified
