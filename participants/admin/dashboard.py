"""The console's index: what an operator on duty looks at first.

Every figure is one aggregate query over indexed columns, so the page costs the same number of queries
(DASHBOARD_QUERIES, asserted in a test) with ten participants or a hundred thousand, and ten tokens or ten
million; bench/run.py times it at that scale. Nothing here is cached: it is what the registry holds now.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncHour, TruncWeek
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from ..models import (
    NOT_OFFBOARDED,
    PARTICIPANT_STATES,
    PENDING_REVIEW,
    AuditEvent,
    Participant,
    ParticipantKey,
    Role,
)
from .common import EXPIRY_NOTICE, EXPIRY_WARNING, FAILURE_SIGNAL_WINDOW, PILL

LIST_LENGTH = 8
DASHBOARD_QUERIES = 11  # one per figure, list or chart: the same however many rows they cover
LOCKOUT_WINDOW = dt.timedelta(days=7)
TOKEN_HOURS = 24
ONBOARDING_WEEKS = 12


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    percent: int  # of the chart's largest bar, for its width


def bars(counts: dict, labels) -> list[Bar]:
    """One bar per label, in order, zero where the query found nothing."""
    values = [counts.get(key, 0) for key, _ in labels]
    top = max(values, default=0) or 1
    return [Bar(label, value, round(100 * value / top)) for (_, label), value in zip(labels, values, strict=True)]


def state_and_role_counts():
    """Participants per state (PARTICIPANT_STATES) and current participants per role: one query."""
    counts = Participant.objects.aggregate(
        **{f"state_{i}": Count("pk", filter=q) for i, q in enumerate(PARTICIPANT_STATES.values())},
        **{f"role_{role.value}": Count("pk", filter=Q(role=role) & NOT_OFFBOARDED) for role in Role},
    )
    states = [
        {"label": label, "count": counts[f"state_{i}"], "tone": PILL.get(label, "quiet")}
        for i, label in enumerate(PARTICIPANT_STATES)
    ]
    roles = [{"label": role.label, "value": role.value, "count": counts[f"role_{role.value}"]} for role in Role]
    return states, roles


def expiry_counts(now):
    """Active keys of current participants expiring within 30 and 90 days, plain keys and certificates
    apart: one query."""
    keys = ParticipantKey.objects.filter(participant__in=Participant.objects.holding_place())
    windows = {"30": now + EXPIRY_WARNING, "90": now + EXPIRY_NOTICE}
    certificate = ~Q(cert_subject="")
    figures = {}
    for name, end in windows.items():
        within = ParticipantKey.objects.expiring(now, end)
        figures[f"keys_{name}"] = Count("pk", filter=within & ~certificate)
        figures[f"certificates_{name}"] = Count("pk", filter=within & certificate)
    return keys.aggregate(**figures)


def without_usable_key(now):
    """Participants that may authenticate but have no key a verifier accepts now: their signed calls fail."""
    usable = ParticipantKey.objects.usable_at(now).filter(participant=OuterRef("pk"))
    return Participant.objects.active().filter(~Exists(usable))


def hourly(queryset, field, now, hours):
    """Rows per hour of the console's zone (TruncHour truncates there; so must the slots: IST is UTC+5:30)."""
    start = timezone.localtime(now - dt.timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    rows = queryset.filter(**{f"{field}__gte": start}).annotate(slot=TruncHour(field)).values("slot")
    counts = {row["slot"]: row["n"] for row in rows.annotate(n=Count("pk")).order_by()}
    slots = [start + dt.timedelta(hours=i) for i in range(hours)]
    local = [(slot, timezone.localtime(slot).strftime("%H:00")) for slot in slots]
    return bars(counts, local)


def weekly(queryset, field, now, weeks):
    today = timezone.localtime(now).date()
    monday = today - dt.timedelta(days=today.weekday())
    first = monday - dt.timedelta(weeks=weeks - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time()))
    rows = queryset.filter(**{f"{field}__gte": start}).annotate(slot=TruncWeek(field)).values("slot")
    counts = {timezone.localtime(row["slot"]).date(): row["n"] for row in rows.annotate(n=Count("pk")).order_by()}
    slots = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    return bars(counts, [(slot, slot.strftime("%d %b")) for slot in slots])


def changelist(model, **query):
    url = reverse(f"admin:participants_{model}_changelist")
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def dashboard(now=None) -> dict:
    """Everything the index shows, read now."""
    now = now or timezone.now()
    states, roles = state_and_role_counts()
    pending = Q(review_status__in=PENDING_REVIEW) & NOT_OFFBOARDED
    no_key = without_usable_key(now)
    events = AuditEvent.objects.select_related("actor_user", "participant__organisation", "organisation")
    tokens = get_access_token_model().objects.all()
    return {
        "states": states,
        "roles": roles,
        "review_queue": list(
            Participant.objects.filter(pending).select_related("organisation").order_by("created_at")[:LIST_LENGTH]
        ),
        "review_count": sum(s["count"] for s in states if s["label"] in ("Applied", "Under review")),
        "expiring": expiry_counts(now),
        "expiring_soonest": list(
            ParticipantKey.objects.expiring_between(now, now + EXPIRY_NOTICE)
            .filter(participant__in=Participant.objects.holding_place())
            .select_related("participant__organisation")
            .order_by("valid_until")[:LIST_LENGTH]
        ),
        "no_usable_key": list(no_key.select_related("organisation").order_by("organisation__name")[:LIST_LENGTH]),
        "no_usable_key_count": no_key.count(),
        "lockouts": list(events.filter(action="admin.locked_out", at__gte=now - LOCKOUT_WINDOW)[:LIST_LENGTH]),
        "failure_signals": list(
            events.filter(action="client.authentication_failures", at__gte=now - FAILURE_SIGNAL_WINDOW)[:LIST_LENGTH]
        ),
        "recent_events": list(events[:LIST_LENGTH]),
        "tokens_per_hour": hourly(tokens, "created", now, TOKEN_HOURS),
        "onboardings_per_week": weekly(Participant.objects.all(), "created_at", now, ONBOARDING_WEEKS),
        "links": {
            "applied": changelist("participant", state="Applied"),
            "under_review": changelist("participant", state="Under+review"),
            "expiring_30": changelist("participant", key_expiry="30"),
            "expiring_90": changelist("participant", key_expiry="90"),
            "audit": changelist("auditevent"),
            "lockouts": changelist("auditevent", action__exact="admin.locked_out"),
            "failures": changelist("auditevent", action__exact="client.authentication_failures"),
        },
    }


def dashboard_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: the dashboard for operators who may see participants; the app list for
    anyone else the admin lets in."""
    if request.user.has_perm("participants.view_participant"):
        context["dashboard"] = dashboard()
    return context
