"""
The registry's signing keys: creation, rotation, encryption at rest, token signing and checking.

Private keys are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under
OCEN_SIGNING_KEY_ENCRYPTION_KEYS (comma-separated; the first encrypts, all decrypt, so the
encryption key itself can rotate), or under a key derived from SECRET_KEY when that is unset.
Each key is decrypted and parsed once per process and kept by kid. Tokens are RS256 JWTs made and
checked by PyJWT; JWKs are exported and thumbprinted (RFC 7638) by jwcrypto.
"""

import base64
import datetime as dt
import hashlib
import time

import jwt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk

from .models import SigningKey, SigningKeyStatus

RSA_BITS = 2048
_private_keys: dict[str, rsa.RSAPrivateKey] = {}
_public_keys: dict[str, rsa.RSAPublicKey] = {}
_active: tuple[float, str, rsa.RSAPrivateKey] | None = None


class NoSigningKey(Exception):
    """No usable signing key: none is active (run `manage.py create_signing_key`), or it cannot be
    decrypted with the configured encryption keys."""


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
    exported = jwk.JWK.from_pem(pem)
    kid = exported.thumbprint()
    public_jwk = {**exported.export_public(as_dict=True), "kid": kid, "use": "sig", "alg": "RS256"}
    signing_key = SigningKey.objects.create(
        kid=kid, public_jwk=public_jwk, private_key_encrypted=_fernet().encrypt(pem).decode()
    )
    _private_keys[kid] = private_key
    forget_active_key()
    return signing_key


def active_key() -> tuple[str, rsa.RSAPrivateKey]:
    """The kid and private key to sign with now, re-read from the database every few seconds.

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


def _load_active_key() -> tuple[str, rsa.RSAPrivateKey]:
    signing_key = SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).only("kid", "private_key_encrypted").first()
    if signing_key is None:
        if not settings.OCEN_AUTO_CREATE_SIGNING_KEY:
            raise NoSigningKey("No active signing key: run `manage.py create_signing_key`.")
        try:
            with transaction.atomic():
                signing_key = create_signing_key()
        except IntegrityError:  # another process created it first
            signing_key = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    return signing_key.kid, _private_key(signing_key)


def _private_key(signing_key: SigningKey) -> rsa.RSAPrivateKey:
    cached = _private_keys.get(signing_key.kid)
    if cached is None:
        try:
            pem = _fernet().decrypt(signing_key.private_key_encrypted.encode())
        except InvalidToken:
            raise NoSigningKey(
                f"Signing key {signing_key.kid} cannot be decrypted: check OCEN_SIGNING_KEY_ENCRYPTION_KEYS "
                "(or DJANGO_SECRET_KEY, from which the default encryption key is derived)."
            ) from None
        cached = _private_keys[signing_key.kid] = serialization.load_pem_private_key(pem, password=None)
    return cached


def sign(claims: dict) -> str:
    """An RS256 JWT (header alg, typ JWT, kid) signed with the active key."""
    kid, key = active_key()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "JWT"})


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


def public_key(kid: str) -> rsa.RSAPublicKey | None:
    """A verifying key by kid, parsed once per process; None when unknown or no longer published."""
    key = _public_keys.get(kid)
    if key is None:
        row = SigningKey.objects.verifying_at(timezone.now()).filter(kid=kid).only("public_jwk").first()
        if row is None:
            return None
        key = _public_keys[kid] = jwt.PyJWK.from_dict(row.public_jwk).key
    return key


def verified_claims(token: str) -> dict | None:
    """The claims of a token this registry signed and that is valid now (signature, iss, aud, time)."""
    try:
        header = jwt.get_unverified_header(token)
        key = public_key(str(header.get("kid", "")))
        if key is None:
            return None
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=settings.OCEN_TOKEN_AUDIENCE,
            issuer=settings.OCEN_ISSUER,
            leeway=settings.OCEN_CLOCK_LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError:
        return None


def sign_detached(body: bytes) -> str:
    """The registry's detached, unencoded JWS over a response body (contract §6), verifiable from the JWKS."""
    kid, key = active_key()
    return jwt.api_jws.encode(
        body, key, algorithm="RS256", headers={"kid": kid, "b64": False, "typ": None}, is_payload_detached=True
    )
