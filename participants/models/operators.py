"""Operators: the console's staff users, the sessions they hold, and their second factors' secrets at rest."""

import base64
import hashlib
import hmac
import os

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_totp.models import TOTPDevice


class OperatorSession(models.Model):
    """A console session, by user: what the sessions page lists and "sign out everywhere" ends. The session
    itself is Django's (django_session); this row says whose it is, from where, and when it was last used."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="operator_session_user")]

    def __str__(self):
        return f"{self.user} from {self.address or '?'}"


# --- secrets at rest ------------------------------------------------------------------------------------------


def encryption_keys() -> list[str]:
    """The registry's Fernet keys for secrets at rest (its signing keys, authapi/signing.py; operators' second
    factors), OCEN_SIGNING_KEY_ENCRYPTION_KEYS (the first encrypts, all decrypt); development without them derives
    one from SECRET_KEY (settings refuse to start without them when DEBUG is off)."""
    configured = [key.strip() for key in settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS if key.strip()]
    if configured:
        return configured
    digest = hashlib.sha256(f"ocen-signing-key-encryption:{settings.SECRET_KEY}".encode()).digest()
    return [base64.urlsafe_b64encode(digest).decode()]


def sealing() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in encryption_keys()])


def sealed(secret: bytes) -> str:
    return sealing().encrypt(secret).decode()


def new_sealed_key() -> str:
    """A new authenticator app's secret (20 random bytes, django-otp's default), sealed."""
    return sealed(os.urandom(20))


def recovery_code_digests(code: str) -> list[str]:
    """What StaticToken.token holds for a recovery code (16 characters): HMAC-SHA256 of the code under each
    encryption key, the first key's for a new code. The database alone neither shows a code nor lets anyone test
    guesses of one; a code made under a key retired from OCEN_SIGNING_KEY_ENCRYPTION_KEYS stops working."""
    message = f"ocen-recovery-code:{code}".encode()
    return [
        hmac.new(base64.urlsafe_b64decode(key), message, hashlib.sha256).hexdigest()[:16] for key in encryption_keys()
    ]


class OperatorTOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """An operator's authenticator app, a django-otp device: django-otp's own TOTP rules (TOTPDevice's methods:
    drift, one use per time step, the throttle) over a secret sealed with the registry's encryption keys, so
    the database never holds it in clear."""

    sealed_key = models.TextField(default=new_sealed_key)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return sealing().decrypt(self.sealed_key.encode())

    # TOTPDevice's code, unchanged, reading the fields above and bin_key; pinned by
    # tests/participants/test_second_factors_at_rest.py (an upgrade that changes what they read fails there).
    verify_token = TOTPDevice.verify_token
    get_throttle_factor = TOTPDevice.get_throttle_factor
    config_url = TOTPDevice.config_url
    _read_str_from_settings = TOTPDevice._read_str_from_settings
