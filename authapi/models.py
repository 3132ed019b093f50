from django.db import models
from django.db.models import Q


class SigningKeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    RETIRED = "RETIRED", "Retired"


class SigningKeyQuerySet(models.QuerySet):
    def verifying_at(self, moment):
        """Keys that can still verify an unexpired token: the active one and recently retired ones."""
        return self.filter(Q(status=SigningKeyStatus.ACTIVE) | Q(verify_until__gt=moment))


class SigningKey(models.Model):
    """The registry's RSA key pair for tokens and signed responses; the private key is Fernet-encrypted."""

    kid = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=8, choices=SigningKeyStatus.choices, default=SigningKeyStatus.ACTIVE)
    public_jwk = models.JSONField()
    private_key_encrypted = models.TextField(help_text="Fernet token of the PKCS#8 PEM private key.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # A retired key stays in the JWKS until every token it signed has expired.
    verify_until = models.DateTimeField(null=True, blank=True)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="ACTIVE"), name="signing_key_one_active"),
            models.CheckConstraint(
                condition=Q(status="ACTIVE") | Q(verify_until__isnull=False), name="signing_key_retired_has_end"
            ),
        ]

    def __str__(self):
        return f"{self.kid} ({self.get_status_display()})"
