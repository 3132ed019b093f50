"""Tokens issued per hour: a kept count the console's dashboard charts (participants/issuance.py keeps it)."""

from django.db import models


class TokenIssuanceQuerySet(models.QuerySet):
    def in_window(self, start, end) -> dict:
        """hour → tokens issued, for the hours counted in [start, end)."""
        return dict(self.filter(hour__gte=start, hour__lt=end).values_list("hour", "count"))


class TokenIssuance(models.Model):
    """Access tokens issued in one hour of the console's zone, counted once that hour is over
    (participants.issuance.count_past_hours, which cleanup_tokens runs first): tokens are deleted soon after they
    expire, so the dashboard's chart of the last 24 hours cannot count them later, and a past hour's count
    never changes."""

    hour = models.DateTimeField(primary_key=True, help_text="The hour's start, in the console's zone.")
    count = models.PositiveBigIntegerField()

    objects = TokenIssuanceQuerySet.as_manager()

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00}: {self.count}"
