"""The participant's page as the operator's cockpit: one effective answer in a coloured banner, and the operations
its state allows, as buttons (each opens its confirmation page, ParticipantAdmin.confirm_view)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from ..models import AuditAction, ParticipantKey, ParticipantState
from .common import PILL, console_time
from .operations import OPERATIONS, confirm_url

# The audit event that put a participant in each state it can be held in, for "… on … by … because …".
STATE_EVENTS = {
    ParticipantState.SUSPENDED: AuditAction.PARTICIPANT_SUSPENDED,
    ParticipantState.REJECTED: AuditAction.PARTICIPANT_REJECTED,
    ParticipantState.OFFBOARDED: AuditAction.PARTICIPANT_OFFBOARDED,
    ParticipantState.UNDER_REVIEW: AuditAction.PARTICIPANT_REVIEW_STARTED,
}


@dataclass(frozen=True)
class Banner:
    tone: str  # ok, warn, info, stop, quiet: console.css's state-* classes
    headline: str
    why: str = ""


@dataclass(frozen=True)
class Operation:
    label: str
    url: str
    style: str = ""  # CSS classes: "primary", "caution" or "danger" (irreversible)


def _since(participant, action):
    """ "on <time> by <who>[ because <reason>]", from the latest audit event of `action`, or ""."""
    event = participant.audit_events.filter(action=action).select_related("actor_user").order_by("-at", "-pk").first()
    if event is None:
        return ""
    who = event.actor_user.get_username() if event.actor_user else event.actor
    reason = event.details.get("reason") or ""
    return f"on {console_time(event.at)} by {who}" + (f" because “{reason}”" if reason else "")


# What each state that cannot authenticate means, and what an operator does about it.
WHY = {
    ParticipantState.APPLIED: "An application received, not yet under review: start its review.",
    ParticipantState.UNDER_REVIEW: "Approve or reject it.",
    ParticipantState.SUSPENDED: "Its keys are withheld and its tokens were revoked; reinstating undoes it.",
    ParticipantState.REJECTED: "Rejection is final: a new application is a new record.",
    ParticipantState.OFFBOARDED: "Offboarding is final: the record is kept as a tombstone.",
}


def _unverifiable(participant) -> str:
    """Why an active participant's signatures are refused now, or "": no key verifies, or none switched to."""
    now = timezone.now()
    keys = ParticipantKey.objects.filter(participant=participant).usable_at(now)
    if not keys.exists():
        return "No key verifies now: its signatures are refused until a valid key is added."
    if not keys.switched_to_by(now).exists():
        return (
            "No primary key verifies now (publicKey): verifiers that read only publicKey, as the OCEN reference "
            "client does, refuse its signatures until a valid key is made primary."
        )
    return ""


def banner(participant, user=None) -> Banner:
    """What the registry does with this participant now, in one sentence (can it authenticate, and why)."""
    if participant.can_authenticate:
        how = "with its registered key only (no client secret)" if participant.key_only else "client secret or key"
        why = _unverifiable(participant)
        return Banner("warn" if why else "ok", f"Can authenticate: yes — active, {how}.", why)
    state = participant.state
    since = _since(participant, STATE_EVENTS[state]) if state in STATE_EVENTS else ""
    why = WHY[state]
    refused = (
        participant.approval_refused(user) if state == ParticipantState.UNDER_REVIEW and user is not None else None
    )
    if refused:
        why = f"{refused} Another administrator must approve it."
    headline = f"Can authenticate: no — {state.label.lower()}{' ' + since if since else ''}."
    return Banner(PILL.get(state, "quiet"), headline, why)


def operations(model_admin, request, participant) -> list[Operation]:
    """The buttons this operator may press on this participant now: the confirmed operations the registry would
    carry out (OPERATIONS, each asking the model's rule) that the operator may do, and Add key."""
    confirmed = {
        name: Operation(spec.cockpit_label, confirm_url(name, participant), spec.cockpit_style)
        for name, spec in OPERATIONS.items()
        if model_admin.may(request, name) and spec.refused(participant, request.user) is None
    }
    offboard = [confirmed.pop("offboard")] if "offboard" in confirmed else []  # the irreversible one comes last
    may_add_key = participant.change_refused() is None and model_admin.has_change_permission(request, participant)
    add_key = [Operation("Add key", reverse("admin:participants_participant_add_key", args=[participant.pk]))]
    return [*confirmed.values(), *(add_key if may_add_key else []), *offboard]
