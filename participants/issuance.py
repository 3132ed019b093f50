"""Tokens issued per hour, for the console's chart: past hours counted once and kept (TokenIssuance), the hours
not counted yet read from the token table. The token endpoint does nothing for it."""

import datetime as dt

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from .models import TokenIssuance

HOUR = dt.timedelta(hours=1)
SETTLE = dt.timedelta(minutes=1)  # a token stamped just before an hour ends may commit just after it
KEPT_BACK = dt.timedelta(days=7)  # how far back a first count reaches


def hour_start(moment) -> dt.datetime:
    """The start of `moment`'s hour in the console's zone (IST hours start at half past, in UTC)."""
    return timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)


def live_counts(start, end=None) -> dict:
    """hour → tokens in the token table created in [start, end), by hour of the console's zone."""
    tokens = get_access_token_model().objects.filter(created__gte=start)
    if end is not None:
        tokens = tokens.filter(created__lt=end)
    rows = tokens.annotate(slot=TruncHour("created")).values("slot").annotate(n=Count("pk")).order_by()
    return {row["slot"]: row["n"] for row in rows}


def count_past_hours(now=None) -> int:
    """Count and keep the tokens of every hour that is over and not counted yet (at most KEPT_BACK); returns
    how many hours it counted. Run before expired tokens are deleted (cleanup_tokens does)."""
    now = now or timezone.now()
    end = hour_start(now - SETTLE)
    last = TokenIssuance.objects.order_by("-hour").values_list("hour", flat=True).first()
    start = max(last + HOUR if last else end - KEPT_BACK, hour_start(end - KEPT_BACK))
    if start >= end:
        return 0
    counts = live_counts(start, end)
    hours = []
    while start < end:
        hours.append(TokenIssuance(hour=start, count=counts.get(start, 0)))
        start += HOUR
    TokenIssuance.objects.bulk_create(hours, ignore_conflicts=True)
    return len(hours)


def per_hour(now, hours: int) -> list[tuple[dt.datetime, int]]:
    """(hour, tokens issued) for the last `hours` hours of the console's zone, the current one last: counted
    hours as kept, the others (the current hour, and any not counted yet) from the token table."""
    first = hour_start(now) - (hours - 1) * HOUR
    slots = [first + i * HOUR for i in range(hours)]
    counted = TokenIssuance.objects.in_window(first, slots[-1] + HOUR)
    uncounted = [slot for slot in slots if slot not in counted]
    live = live_counts(uncounted[0]) if uncounted else {}
    return [(slot, counted[slot] if slot in counted else live.get(slot, 0)) for slot in slots]
