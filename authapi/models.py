import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q


class SigningKeyStatus(models.TextChoices):
    NEXT = "NEXT", "Next (published, not yet signing)"
    ACTIVE = "ACTIVE", "Active"
    RETIRED = "RETIRED", "Retired"
    REVOKED = "REVOKED", "Revoked"


class SigningKeyQuerySet(models.QuerySet):
    def active(self):
        """The key that signs now (at most one: a database constraint)."""
        return self.filter(status=SigningKeyStatus.ACTIVE)

    def upcoming(self):
        """The key published to sign next (at most one: a database constraint)."""
        return self.filter(status=SigningKeyStatus.NEXT)

    def published_at(self, moment):
        """Keys the JWKS lists at `moment`: those verifying_at it, and the next key, published ahead of its use so
        that every verifier's copy holds it before it signs."""
        return self.verifying_at(moment) | self.upcoming()

    def verifying_at(self, moment):
        """Keys that can still verify an unexpired token at `moment` (a datetime or a database clock
        expression such as Now()): the active one and recently retired ones. A revoked key never does."""
        return self.filter(
            Q(status=SigningKeyStatus.ACTIVE) | Q(status=SigningKeyStatus.RETIRED, verify_until__gt=moment)
        )


class SigningKey(models.Model):
    """The registry's RSA key pair for tokens and signed responses; the private key is Fernet-encrypted."""

    kid = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=8, choices=SigningKeyStatus.choices, default=SigningKeyStatus.ACTIVE)
    public_jwk = models.JSONField()
    private_key_encrypted = models.TextField(help_text="Fernet token of the PKCS#8 PEM private key.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # A retired key stays in the JWKS until every token it signed has expired; a revoked one leaves at once.
    verify_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("revoke_signingkey", "Can revoke a registry signing key")]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="ACTIVE"), name="signing_key_one_active"),
            models.UniqueConstraint(fields=["status"], condition=Q(status="NEXT"), name="signing_key_one_next"),
            models.CheckConstraint(
                condition=Q(status__in=["ACTIVE", "NEXT"]) | Q(verify_until__isnull=False),
                name="signing_key_retired_has_end",
            ),
            models.CheckConstraint(
                condition=~Q(status="REVOKED") | Q(revoked_at__isnull=False), name="signing_key_revoked_has_time"
            ),
        ]

    def __str__(self):
        return f"{self.kid} ({self.get_status_display()})"

    @property
    def signs_from(self) -> dt.datetime:
        """When a NEXT key may start signing: once every copy of the JWKS made before it was published has expired
        (the JWKS is cacheable for OCEN_REGISTRY_MAX_AGE), so that no verifier meets it as an unknown kid."""
        return self.created_at + dt.timedelta(seconds=settings.OCEN_REGISTRY_MAX_AGE)
