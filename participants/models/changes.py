"""The change feed (GET /service/changes, issue 16): an append-only log of which published records changed, in
commit order. What an audited action changed is participants/changes.py's rule."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone


class ChangeKind(models.TextChoices):
    """The records the change feed names: each is looked up again, as it is now, when the feed is read."""

    PARTICIPANT = "participant", "Participant"
    PRODUCT = "product", "Product"
    NETWORK = "network", "Product network"


class EventType(models.TextChoices):
    """What a change did, as webhook subscribers choose and receive it (the feed's `type`)."""

    PARTICIPANT = "participant.changed", "A participant's record (organisation, base URL, role, new participants)"
    STATUS = "status.changed", "A participant's status (approval, suspension, reinstatement, offboarding)"
    KEYS = "keys.changed", "A participant's keys (added, primary switch scheduled or made, retired, revoked)"
    PRODUCT = "product.changed", "A product"
    NETWORK = "network.changed", "A product network or its members"


class ChangeQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The change feed is append-only")

    def after(self, seq: int):
        return self.filter(seq__gt=seq).order_by("seq")

    def retention_horizon(self) -> int:
        """The newest entry older than the feed keeps (OCEN_CHANGE_RETENTION_DAYS), or 0: a reader behind it
        has missed entries that are gone or may go at any moment (trim_changes keeps this one as the mark)."""
        cutoff = timezone.now() - dt.timedelta(days=settings.OCEN_CHANGE_RETENTION_DAYS)
        return self.filter(at__lt=cutoff).order_by("-at", "-seq").values_list("seq", flat=True).first() or 0

    def newest(self) -> int:
        return self.order_by("-seq").values_list("seq", flat=True).first() or 0


class Change(models.Model):
    """One entry of the change feed: the record of `kind` with `object_id` changed, in what participants see
    of one another. Appended in the transaction that made the change (participants.changes.append), in
    commit order: a reader that has seen `seq` N has seen every entry below it."""

    seq = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    object_id = models.UUIDField()
    type = models.CharField(max_length=32, choices=EventType.choices, default=EventType.PARTICIPANT)
    at = models.DateTimeField(default=timezone.now)

    objects = ChangeQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["at"], name="change_at")]  # retention trims by age

    def __str__(self):
        return f"#{self.seq} {self.kind} {self.object_id}"
