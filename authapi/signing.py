"""
The registry's signing keys: creation, rotation, revocation, encryption at rest, token signing and checking.

Private keys are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under
OCEN_SIGNING_KEY_ENCRYPTION_KEYS (comma-separated; the first encrypts, all decrypt, so the
encryption key itself can rotate); only development (DEBUG) falls back to a key derived from
SECRET_KEY. Tokens are RS256 JWTs made and checked by PyJWT; JWKs are exported and thumbprinted
(RFC 7638) by jwcrypto.

Which key signs, and which keys verify, is read from the database for every decision: the token
insert checks that the key which signed the token is still the active one, registry answers are
signed with the key the request's own statement found active, introspection asks which keys still
verify. A process keeps only what cannot change: a key pair parsed from its row, by kid.
"""

import base64
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass

import jwt
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk

from participants.models import AuditAction
from participants.models.operators import sealing  # the registry's one set of Fernet keys for secrets at rest
from participants.services import Actor, audit
from participants.wire import rfc3339

from . import compiled
from .memory import memory
from .models import SigningKey, SigningKeyStatus

RSA_BITS = 2048


class NoSigningKey(Exception):
    """No usable signing key: none is active (run `manage.py create_signing_key`), or it cannot be
    decrypted with the configured encryption keys."""


def create_signing_key(*, actor: Actor | None = None, status: str = SigningKeyStatus.ACTIVE) -> SigningKey:
    """Generate a key pair and store it ACTIVE (fails if another key is active: rotate instead), or NEXT: published
    in the JWKS, signing once a rotation makes it active."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    exported = jwk.JWK.from_pem(pem)
    kid = exported.thumbprint()
    public_jwk = {**exported.export_public(as_dict=True), "kid": kid, "use": "sig", "alg": "RS256"}
    signing_key = SigningKey.objects.create(
        kid=kid, status=status, public_jwk=public_jwk, private_key_encrypted=sealing().encrypt(pem).decode()
    )
    memory.private_keys[kid] = private_key
    published = (
        {"status": status, "signsFrom": rfc3339(signing_key.signs_from)} if status == SigningKeyStatus.NEXT else {}
    )
    audit(actor or Actor.system(), AuditAction.SIGNING_KEY_CREATED, kid=kid, **published)
    return signing_key


def active_kid(*, fresh: bool = True) -> str:
    """The kid of the key that signs now, read from the database; with `fresh=False`, this process's
    latest reading when it has one (for the token grant only, whose insert re-checks it)."""
    if fresh or memory.active_kid_hint is None:
        kid = compiled.active_kid()
        if kid is None:
            kid = _create_first_key()
        memory.active_kid_hint = kid
    return memory.active_kid_hint


def _create_first_key() -> str:
    if not settings.OCEN_AUTO_CREATE_SIGNING_KEY:
        raise NoSigningKey("No active signing key: run `manage.py create_signing_key`.")
    try:
        with transaction.atomic():
            return create_signing_key().kid
    except IntegrityError:  # another process created it first
        return SigningKey.objects.active().values_list("kid", flat=True).get()


def private_key(kid: str) -> rsa.RSAPrivateKey:
    """The private key of signing key `kid`, decrypted and parsed once per process."""
    cached = memory.private_keys.get(kid)
    if cached is None:
        encrypted = SigningKey.objects.filter(kid=kid).values_list("private_key_encrypted", flat=True).first()
        if encrypted is None:
            raise NoSigningKey(f"No signing key {kid}.")
        try:
            pem = sealing().decrypt(encrypted.encode())
        except InvalidToken:
            raise NoSigningKey(
                f"Signing key {kid} cannot be decrypted: check OCEN_SIGNING_KEY_ENCRYPTION_KEYS."
            ) from None
        cached = memory.private_keys[kid] = serialization.load_pem_private_key(pem, password=None)
    return cached


def sign(claims: dict, kid: str) -> str:
    """An RS256 JWT (header alg, typ JWT, kid) signed with signing key `kid`."""
    return jwt.encode(claims, private_key(kid), algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


def sign_detached(body: bytes, kid: str | None = None) -> str:
    """The registry's detached, unencoded JWS over a response body (contract §6), verifiable from the
    JWKS: signed with `kid` (the active key as this request read it), else the active key now."""
    kid = kid or active_kid()
    return jwt.api_jws.encode(
        body,
        private_key(kid),
        algorithm="RS256",
        headers={"kid": kid, "b64": False, "typ": None},
        is_payload_detached=True,
    )


class DetachedSigner:
    """sign_detached over a body made in pieces (a streamed answer, GET /service/snapshot): the same JWS, without
    the body whole in memory. RS256 over an unencoded payload (b64: false) signs `header.payload` as bytes,
    so its SHA-256 runs over the pieces as they are written."""

    def __init__(self, kid: str | None = None):
        self.kid = kid or active_kid()
        header = {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": self.kid}  # as PyJWT writes it
        header = json.dumps(header, separators=(",", ":"), sort_keys=True)
        self.header = base64.urlsafe_b64encode(header.encode()).rstrip(b"=")
        self.digest = hashlib.sha256(self.header + b".")

    def update(self, piece: bytes) -> None:
        self.digest.update(piece)

    def signature(self) -> str:
        signed = private_key(self.kid).sign(self.digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return f"{self.header.decode()}..{base64.urlsafe_b64encode(signed).rstrip(b'=').decode()}"


def published_jwks(now=None) -> dict:
    """The JWKS: every key that can still verify an unexpired token, and the next key, published before it signs."""
    now = now or timezone.now()
    return {"keys": [k.public_jwk for k in SigningKey.objects.published_at(now).only("public_jwk")]}


@dataclass(frozen=True)
class Rotation:
    """Where a rotation left the registry's signing keys: the key that signs now, the one this step retired (if it
    switched), and the key published to sign next (if it did not switch yet)."""

    active: SigningKey
    retired: SigningKey | None = None
    upcoming: SigningKey | None = None


@transaction.atomic
def rotate_signing_key(*, actor: Actor | None = None, at_once: bool = False) -> Rotation:
    """Replace the signing key without any verifier meeting an unknown kid, in two steps: the first publishes a NEXT
    key in the JWKS; a later one, once the NEXT key has been published for OCEN_REGISTRY_MAX_AGE (`signs_from`:
    every copy of the JWKS cached before it has expired), makes it sign and retires the active key, which stays
    published until its tokens expire. A step before `signs_from` changes nothing. `at_once` switches now, to the
    NEXT key if there is one, else to a new key (after a suspected compromise: verifiers holding an older copy of
    the JWKS fetch it again when they meet the new kid, or once their copy expires)."""
    actor = actor or Actor.system()
    active = SigningKey.objects.select_for_update().active().first()
    upcoming = SigningKey.objects.select_for_update().upcoming().first()
    if upcoming is None:
        upcoming = create_signing_key(actor=actor, status=SigningKeyStatus.NEXT)
    if active is not None and not at_once and timezone.now() < upcoming.signs_from:
        return Rotation(active, None, upcoming)
    retired = _retire(active, successor=upcoming, actor=actor) if active is not None else None
    upcoming.status = SigningKeyStatus.ACTIVE
    upcoming.save(update_fields=["status"])
    return Rotation(upcoming, retired)


def _retire(key: SigningKey, *, successor: SigningKey, actor: Actor) -> SigningKey:
    """The active key stops signing, `successor` signs from now on; the old key verifies until every token it
    signed has expired."""
    key.status = SigningKeyStatus.RETIRED
    key.retired_at = timezone.now()
    key.verify_until = key.retired_at + dt.timedelta(
        seconds=settings.OCEN_ACCESS_TOKEN_TTL + settings.OCEN_CLOCK_LEEWAY
    )
    key.save(update_fields=["status", "retired_at", "verify_until"])
    audit(
        actor,
        AuditAction.SIGNING_KEY_RETIRED,
        kid=key.kid,
        verifyUntil=rfc3339(key.verify_until),
        successorKid=successor.kid,
    )
    return key


@transaction.atomic
def revoke_signing_key(*, kid: str, reason: str, actor: Actor) -> tuple[SigningKey, SigningKey | None]:
    """Withdraw a signing key at once (its private key is compromised): it leaves the JWKS, and every
    token it signed stops working on the next request on every server. Revoking the active key puts the
    NEXT key (verifiers may hold it already) or else a new one in its place in the same transaction; a NEXT key
    revoked never signs. Returns the revoked key and the one that signs in its place, if any."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the signing key is revoked (for the audit trail)."})
    key = SigningKey.objects.select_for_update().filter(kid=kid).first()
    if key is None:
        raise ValidationError({"kid": f"No signing key {kid!r}."})
    if key.status == SigningKeyStatus.REVOKED:
        raise ValidationError({"kid": f"Signing key {kid} is already revoked."})
    was_active = key.status == SigningKeyStatus.ACTIVE
    now = timezone.now()
    key.status = SigningKeyStatus.REVOKED
    key.revoked_at = key.verify_until = now
    key.retired_at = key.retired_at or now
    key.revocation_reason = reason[:500]
    key.save(update_fields=["status", "revoked_at", "verify_until", "retired_at", "revocation_reason"])
    audit(actor, AuditAction.SIGNING_KEY_REVOKED, kid=kid, reason=reason, wasActive=was_active)
    replacement = None
    if was_active:
        replacement = SigningKey.objects.select_for_update().upcoming().first()
        if replacement is None:
            replacement = create_signing_key(actor=actor)
        else:
            replacement.status = SigningKeyStatus.ACTIVE
            replacement.save(update_fields=["status"])
    return key, replacement


def verifying_key(kid: str) -> rsa.RSAPublicKey | None:
    """The public key `kid` if the registry still publishes it (asked of the database on every call);
    None when unknown, retired past its end, or revoked."""
    row = SigningKey.objects.verifying_at(timezone.now()).filter(kid=kid).values_list("public_jwk", flat=True).first()
    if row is None:
        return None
    key = memory.public_keys.get(kid)
    if key is None:
        key = memory.public_keys[kid] = jwt.PyJWK.from_dict(row).key
    return key


def verified_claims(token: str) -> dict | None:
    """The claims of a token this registry signed with a key it still publishes, valid now (signature,
    iss, time, and an `aud` this registry issues: the shared audience or a participantId, see
    authapi.audience); else None."""
    try:
        header = jwt.get_unverified_header(token)
        key = verifying_key(str(header.get("kid", "")))
        if key is None:
            return None
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=settings.OCEN_ISSUER,
            leeway=settings.OCEN_CLOCK_LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_aud": False},
        )
    except jwt.PyJWTError:
        return None
    return claims if _issued_audience(claims["aud"]) else None


def _issued_audience(audience) -> bool:
    if audience == settings.OCEN_TOKEN_AUDIENCE:
        return True
    try:
        return isinstance(audience, str) and uuid.UUID(audience) is not None
    except ValueError:
        return False
