"""Webhook subscriptions: which participant takes which change feed events where, and how far it has been
delivered."""

import uuid

from django.db import models
from django.utils import timezone


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    PAUSED = "PAUSED", "Paused"


class SubscriptionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=SubscriptionStatus.ACTIVE)

    def wanting(self, types, participants=()) -> list:
        """The ids of active subscriptions that take one of these event types, or are these participants'."""
        types, participants = set(types), set(participants)
        rows = self.active().values_list("pk", "participant_id", "events")
        return [pk for pk, owner, events in rows if owner in participants or types & set(events)]


class Subscription(models.Model):
    """A participant's webhook: signed events for the changes of the chosen types, delivered in feed order
    (authapi/webhooks.py). `delivered_seq` is its cursor in the change feed: every change up to it has been
    delivered or was not of a chosen type."""

    MAX_PER_PARTICIPANT = 10

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    participant = models.ForeignKey("Participant", on_delete=models.CASCADE, related_name="subscriptions")
    url = models.URLField(max_length=500)
    events = models.JSONField(help_text="The event types it takes (EventType values).")
    status = models.CharField(max_length=8, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_seq = models.BigIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "url"], name="subscription_url_once")]

    def __str__(self):
        return self.url

    def backing_off(self, now) -> bool:
        return self.next_attempt_at is not None and self.next_attempt_at > now

    def pause_refused(self) -> str | None:
        if self.status != SubscriptionStatus.ACTIVE:
            return "Only an active subscription can be paused; this one is paused already."
        return None

    def resume_refused(self) -> str | None:
        if self.status != SubscriptionStatus.PAUSED:
            return "Only a paused subscription can be resumed."
        return None
