"""The console's index: what an operator on duty looks at first.

Every figure is one aggregate query over indexed columns, so the page costs the same number of queries
(DASHBOARD_QUERIES, asserted in a test) with ten participants or a hundred thousand, and ten tokens or ten
million; bench/run.py times it at that scale. Nothing here is cached: it is what the registry holds now
(past hours' token counts are kept facts, participants.issuance).
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from participants import issuance

from ..models import (
    NOT_OFFBOARDED,
    PARTICIPANT_STATES,
    PENDING_REVIEW,
    AuditAction,
    AuditEvent,
    Participant,
    ParticipantKey,
    ParticipantState,
    Role,
)
from .common import EXPIRY_NOTICE, EXPIRY_WARNING, FAILURE_SIGNAL_WINDOW, PILL

PENDING_STATES = (ParticipantState.APPLIED, ParticipantState.UNDER_REVIEW)  # the review queue
LIST_LENGTH = 8
# One per figure, list or chart, the same however many rows they cover; one more when the list of active
# participants with no usable key is full (then it is counted too).
DASHBOARD_QUERIES = 10
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


def week_starts(now, weeks) -> list[dt.datetime]:
    """The Mondays (00:00 in the console's zone) of the last `weeks` weeks, this one last."""
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)
    return [timezone.make_aware(dt.datetime.combine(first + dt.timedelta(weeks=i), dt.time())) for i in range(weeks)]


def participant_counts(now):
    """Participants per state (PARTICIPANT_STATES), current participants per role, and onboardings per week of
    the last ONBOARDING_WEEKS: one query, an index-only scan of participant_dashboard."""
    weeks = week_starts(now, ONBOARDING_WEEKS)
    ends = [*weeks[1:], None]
    counts = Participant.objects.aggregate(
        **{f"state_{i}": Count("pk", filter=q) for i, q in enumerate(PARTICIPANT_STATES.values())},
        **{f"role_{role.value}": Count("pk", filter=Q(role=role) & NOT_OFFBOARDED) for role in Role},
        **{
            f"week_{i}": Count("pk", filter=Q(created_at__gte=start, **({"created_at__lt": end} if end else {})))
            for i, (start, end) in enumerate(zip(weeks, ends, strict=True))
        },
    )
    states = [
        {"label": state.label, "value": state.value, "count": counts[f"state_{i}"], "tone": PILL.get(state, "quiet")}
        for i, state in enumerate(PARTICIPANT_STATES)
    ]
    roles = [{"label": role.label, "value": role.value, "count": counts[f"role_{role.value}"]} for role in Role]
    onboardings = bars(
        {i: counts[f"week_{i}"] for i in range(len(weeks))},
        [(i, timezone.localtime(start).strftime("%d %b")) for i, start in enumerate(weeks)],
    )
    return states, roles, onboardings


def expiry_counts(now):
    """Active keys of current participants expiring within 30 and 90 days, plain keys and certificates
    apart: one query."""
    keys = ParticipantKey.objects.expiring_between(now, now + EXPIRY_NOTICE).filter(
        participant__in=Participant.objects.holding_place()
    )
    windows = {"30": now + EXPIRY_WARNING, "90": now + EXPIRY_NOTICE}
    certificate = ~Q(cert_subject="")
    figures = {}
    for name, end in windows.items():
        within = ParticipantKey.objects.expiring(now, end)
        figures[f"keys_{name}"] = Count("pk", filter=within & ~certificate)
        figures[f"certificates_{name}"] = Count("pk", filter=within & certificate)
    return keys.aggregate(**figures)


def without_usable_key(now):
    """Participants that may authenticate but have no primary key a verifier accepts now (none switched to, or
    every one switched to revoked or expired): verifiers that read publicKey, as the OCEN reference client does,
    refuse their signed calls."""
    usable = ParticipantKey.objects.usable_at(now).switched_to_by(now).filter(participant=OuterRef("pk"))
    return Participant.objects.active().filter(~Exists(usable))


def tokens_per_hour(now, hours):
    """Tokens issued per hour of the console's zone (participants.issuance: past hours counted once and kept)."""
    counts = dict(issuance.per_hour(now, hours))
    return bars(counts, [(slot, timezone.localtime(slot).strftime("%H:00")) for slot in counts])


def changelist(model, **query):
    url = reverse(f"admin:participants_{model}_changelist")
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def dashboard(now=None) -> dict:
    """Everything the index shows, read now."""
    now = now or timezone.now()
    states, roles, onboardings = participant_counts(now)
    pending = Q(review_status__in=PENDING_REVIEW) & NOT_OFFBOARDED
    no_key = without_usable_key(now)
    no_key_list = list(no_key.select_related("organisation").order_by("organisation__name")[:LIST_LENGTH])
    events = AuditEvent.objects.select_related("actor_user", "participant__organisation", "organisation")
    return {
        "states": states,
        "roles": roles,
        "review_queue": list(
            Participant.objects.filter(pending).select_related("organisation").order_by("created_at")[:LIST_LENGTH]
        ),
        "review_count": sum(s["count"] for s in states if s["value"] in PENDING_STATES),
        "expiring": expiry_counts(now),
        "expiring_soonest": list(
            ParticipantKey.objects.expiring_between(now, now + EXPIRY_NOTICE)
            .filter(participant__in=Participant.objects.holding_place())
            .select_related("participant__organisation")
            .order_by("valid_until")[:LIST_LENGTH]
        ),
        "no_usable_key": no_key_list,
        # Counted only when the list is full: a healthy registry has few, and the list then says how many.
        "no_usable_key_count": no_key.count() if len(no_key_list) == LIST_LENGTH else len(no_key_list),
        "lockouts": list(
            events.filter(action=AuditAction.ADMIN_LOCKED_OUT, at__gte=now - LOCKOUT_WINDOW)[:LIST_LENGTH]
        ),
        "failure_signals": list(
            events.filter(action=AuditAction.CLIENT_AUTHENTICATION_FAILURES, at__gte=now - FAILURE_SIGNAL_WINDOW)[
                :LIST_LENGTH
            ]
        ),
        "recent_events": list(events[:LIST_LENGTH]),
        "tokens_per_hour": tokens_per_hour(now, TOKEN_HOURS),
        "onboardings_per_week": onboardings,
        "links": {
            "applied": changelist("participant", state=ParticipantState.APPLIED.value),
            "under_review": changelist("participant", state=ParticipantState.UNDER_REVIEW.value),
            "expiring_30": changelist("participant", key_expiry="30"),
            "expiring_90": changelist("participant", key_expiry="90"),
            "audit": changelist("auditevent"),
            "lockouts": changelist("auditevent", action__exact=AuditAction.ADMIN_LOCKED_OUT.value),
            "failures": changelist("auditevent", action__exact=AuditAction.CLIENT_AUTHENTICATION_FAILURES.value),
        },
    }


def dashboard_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: the dashboard for operators who may see participants; the app list for
    anyone else the admin lets in."""
    if request.user.has_perm("participants.view_participant"):
        context["dashboard"] = dashboard()
    return context
