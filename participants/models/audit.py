"""The audit trail: who did what to which participant, when, from where; and the one list of what can be done
(AuditAction), each action with what it changes in the published records."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .changes import EventType
from .organisations import Organisation
from .participants import Participant


class AuditAction(models.TextChoices):
    """Every audited action. Each member carries the change feed's event type for the participant records it
    changes (None: it changes no published record), so a new action states its place in the feed where it is
    declared (participants/changes.py announces it)."""

    def __new__(cls, value: str, event_type: EventType | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.event_type = event_type
        return member

    ORGANISATION_CREATED = "organisation.created", EventType.PARTICIPANT, "Organisation created"
    ORGANISATION_UPDATED = "organisation.updated", EventType.PARTICIPANT, "Organisation updated"
    ORGANISATION_LOGO_SET = "organisation.logo_set", EventType.PARTICIPANT, "Organisation logo set"
    ORGANISATION_LOGO_REMOVED = "organisation.logo_removed", EventType.PARTICIPANT, "Organisation logo removed"
    PARTICIPANT_ONBOARDED = "participant.onboarded", EventType.PARTICIPANT, "Participant onboarded"
    PARTICIPANT_UPDATED = "participant.updated", EventType.PARTICIPANT, "Base URL changed"
    PARTICIPANT_REVIEW_STARTED = "participant.review_started", EventType.STATUS, "Review started"
    PARTICIPANT_APPROVED = "participant.approved", EventType.STATUS, "Approved"
    PARTICIPANT_REJECTED = "participant.rejected", EventType.STATUS, "Rejected"
    PARTICIPANT_SUSPENDED = "participant.suspended", EventType.STATUS, "Suspended"
    PARTICIPANT_REINSTATED = "participant.reinstated", EventType.STATUS, "Reinstated"
    PARTICIPANT_OFFBOARDED = "participant.offboarded", EventType.STATUS, "Offboarded"
    # Credentials: no published record shows them.
    SECRET_ROTATED = "participant.secret_rotated", None, "Client secret rotated"
    SECRET_WITHDRAWN = "participant.secret_withdrawn", None, "Client secret withdrawn (key only)"
    KEY_ADDED = "key.added", EventType.KEYS, "Key added"
    KEY_PRIMARY_SCHEDULED = "key.primary_scheduled", EventType.KEYS, "Primary key switch scheduled"
    KEY_PROMOTED = "key.promoted", EventType.KEYS, "Key made primary"
    KEY_RETIRED = "key.retired", EventType.KEYS, "Key retired"
    KEY_REVOKED = "key.revoked", EventType.KEYS, "Key revoked"
    PRODUCT_CREATED = "product.created", EventType.PRODUCT, "Product created"
    PRODUCT_UPDATED = "product.updated", EventType.PRODUCT, "Product updated"
    PRODUCT_WITHDRAWN = "product.withdrawn", EventType.PRODUCT, "Product withdrawn"
    NETWORK_CREATED = "network.created", EventType.NETWORK, "Network created"
    NETWORK_UPDATED = "network.updated", EventType.NETWORK, "Network updated"
    NETWORK_MEMBER_ADDED = "network.member_added", EventType.NETWORK, "Network member added"
    NETWORK_MEMBER_REMOVED = "network.member_removed", EventType.NETWORK, "Network member removed"
    SUBSCRIPTION_CREATED = "subscription.created", None, "Webhook subscription created"
    SUBSCRIPTION_DELETED = "subscription.deleted", None, "Webhook subscription deleted"
    SUBSCRIPTION_PAUSED = "subscription.paused", None, "Webhook subscription paused"
    SUBSCRIPTION_RESUMED = "subscription.resumed", None, "Webhook subscription resumed"
    SIGNING_KEY_CREATED = "signing_key.created", None, "Registry signing key created"
    SIGNING_KEY_RETIRED = "signing_key.retired", None, "Registry signing key retired"
    SIGNING_KEY_REVOKED = "signing_key.revoked", None, "Registry signing key revoked"
    CLIENT_AUTHENTICATION_FAILURES = (
        "client.authentication_failures",
        None,
        "Repeated failed client authentications",
    )
    ADMIN_LOCKED_OUT = "admin.locked_out", None, "Console sign-in locked out"
    OPERATOR_TOTP_ENROLLED = "operator.totp_enrolled", None, "Authenticator app enrolled"
    OPERATOR_PASSKEY_ENROLLED = "operator.passkey_enrolled", None, "Passkey enrolled"
    OPERATOR_RECOVERY_CODE_USED = "operator.recovery_code_used", None, "Recovery code used"
    OPERATOR_DEVICES_RESET = "operator.devices_reset", None, "Second factors reset"
    OPERATOR_SIGNED_OUT_IDLE = "operator.signed_out_idle", None, "Signed out after idling"
    OPERATOR_SIGNED_OUT_EVERYWHERE = "operator.signed_out_everywhere", None, "Signed out everywhere"
    OPERATOR_SESSIONS_ENDED = "operator.sessions_ended", None, "Other sessions ended"
    REGISTRY_IMPORTED = "registry.imported", None, "Registry document imported"

    @property
    def area(self) -> str:
        """What it acts on: the part before the dot (participant, key, organisation, …)."""
        return self.value.split(".", 1)[0]


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only")

    def delete(self):
        raise TypeError("Audit events are append-only")


class AuditEvent(models.Model):
    """Append-only record of a state change: who did what to which participant, when, from where."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=200, help_text="Who acted: a username, 'cli:…' or 'system'.")
    action = models.CharField(max_length=64, db_index=True, choices=AuditAction.choices)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["participant", "-at"], name="audit_participant_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only")

    @property
    def action_type(self) -> AuditAction:
        return AuditAction(self.action)
