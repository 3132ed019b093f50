"""
The registry's signing keys: creation, rotation, encryption at rest, and per-process caches.

Private keys are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under
OCEN_SIGNING_KEY_ENCRYPTION_KEYS (comma-separated; the first encrypts, all decrypt, so the
encryption key itself can rotate), or under a key derived from SECRET_KEY when that is unset.
A key is decrypted and parsed once per process and then kept by kid.
"""

import base64
import datetime as dt
import hashlib
import json
import time

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

from .models import SigningKey, SigningKeyStatus

RSA_BITS = 2048
_private_keys: dict[str, jwk.JWK] = {}
_public_keys: dict[str, jwk.JWK] = {}


class NoSigningKey(Exception):
    """The registry has no active signing key (production: run `manage.py create_signing_key`)."""


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS if k.strip()]
    if not configured:
        digest = hashlib.sha256(f"ocen-signing-key-encryption:{settings.SECRET_KEY}".encode()).digest()
        configured = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in configured])


def create_signing_key(*, now=None) -> SigningKey:
    """Generate a key pair and store it ACTIVE; fails if another key is active (use rotate)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = jwk.JWK.from_pem(pem)
    kid = key.thumbprint()
    public_jwk = {**key.export_public(as_dict=True), "kid": kid, "use": "sig", "alg": "RS256"}
    signing_key = SigningKey.objects.create(
        kid=kid, public_jwk=public_jwk, private_key_encrypted=_fernet().encrypt(pem).decode()
    )
    _private_keys[kid] = jwk.JWK.from_pem(pem)
    forget_active_key()
    return signing_key


_active: tuple[float, str, jwk.JWK] | None = None


def active_key() -> tuple[str, jwk.JWK]:
    """The kid and private JWK to sign with now, re-read from the database every few seconds.

    Another server's rotation reaches this process within OCEN_SIGNING_KEY_REFRESH seconds; until
    then it signs with the retired key, which stays published, so its tokens still verify.
    """
    global _active
    now = time.monotonic()
    if _active is None or now - _active[0] > settings.OCEN_SIGNING_KEY_REFRESH:
        kid, key = _load_active_key()
        _active = (now, kid, key)
    return _active[1], _active[2]


def forget_active_key() -> None:
    global _active
    _active = None


def reset_caches() -> None:
    """Forget every parsed key (tests, whose databases roll back under the process)."""
    forget_active_key()
    _private_keys.clear()
    _public_keys.clear()


def _load_active_key() -> tuple[str, jwk.JWK]:
    signing_key = SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).only("kid", "private_key_encrypted").first()
    if signing_key is None:
        if not settings.OCEN_AUTO_CREATE_SIGNING_KEY:
            raise NoSigningKey("No active signing key: run `manage.py create_signing_key`.")
        try:
            with transaction.atomic():
                signing_key = create_signing_key()
        except IntegrityError:  # another process created it first
            signing_key = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    return signing_key.kid, private_jwk(signing_key)


def private_jwk(signing_key: SigningKey) -> jwk.JWK:
    cached = _private_keys.get(signing_key.kid)
    if cached is None:
        pem = _fernet().decrypt(signing_key.private_key_encrypted.encode())
        cached = _private_keys[signing_key.kid] = jwk.JWK.from_pem(pem)
    return cached


def published_jwks(now=None) -> dict:
    """The JWKS of every key that can still verify an unexpired token."""
    now = now or timezone.now()
    return {"keys": [k.public_jwk for k in SigningKey.objects.verifying_at(now).only("public_jwk")]}


@transaction.atomic
def rotate_signing_key(*, now=None) -> tuple[SigningKey, SigningKey | None]:
    """Retire the active key (kept for verification until its tokens expire) and make a new one."""
    now = now or timezone.now()
    old = SigningKey.objects.select_for_update().filter(status=SigningKeyStatus.ACTIVE).first()
    if old is not None:
        old.status = SigningKeyStatus.RETIRED
        old.retired_at = now
        old.verify_until = now + dt.timedelta(seconds=settings.OCEN_ACCESS_TOKEN_TTL + settings.OCEN_CLOCK_LEEWAY)
        old.save(update_fields=["status", "retired_at", "verify_until"])
    return create_signing_key(now=now), old


def public_jwk(kid: str) -> jwk.JWK | None:
    """A verifying key by kid, parsed once per process; None when unknown or no longer published."""
    key = _public_keys.get(kid)
    if key is None:
        row = SigningKey.objects.verifying_at(timezone.now()).filter(kid=kid).only("public_jwk").first()
        if row is None:
            return None
        key = _public_keys[kid] = jwk.JWK(**row.public_jwk)
    return key


def verified_claims(token: str) -> dict | None:
    """The claims of a token this registry signed and that is valid now (signature, iss, aud, time)."""
    try:
        header = jwt.JWT(jwt=token).token.jose_header
        key = public_jwk(header.get("kid", ""))
        if key is None or header.get("alg") != "RS256":
            return None
        verified = jwt.JWT(
            algs=["RS256"],
            check_claims={"iss": settings.OCEN_ISSUER, "aud": settings.OCEN_TOKEN_AUDIENCE, "exp": None},
        )
        verified.leeway = settings.OCEN_CLOCK_LEEWAY
        verified.deserialize(token, key)
        return json.loads(verified.claims)
    except (JWException, ValueError):
        return None
