"""The participant's page as the operator's cockpit: one effective answer in a coloured banner, and the operations
its state allows, as buttons (each opens its confirmation page, ParticipantAdmin.confirm_view)."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from ..models import PENDING_REVIEW, ParticipantKey, ReviewStatus
from .common import PILL, console_time

# The audit event that put a participant in each state it can be held in, for "… on … by … because …".
STATE_EVENTS = {
    "Suspended": "participant.suspended",
    "Rejected": "participant.rejected",
    "Offboarded": "participant.offboarded",
    "Under review": "participant.review_started",
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
    "Applied": "An application received, not yet under review: start its review.",
    "Under review": "Approve or reject it.",
    "Suspended": "Its keys are withheld and its tokens were revoked; reinstating undoes it.",
    "Rejected": "Rejection is final: a new application is a new record.",
    "Offboarded": "Offboarding is final: the record is kept as a tombstone.",
}


def banner(participant, user=None) -> Banner:
    """What the registry does with this participant now, in one sentence (can it authenticate, and why)."""
    if participant.can_authenticate:
        usable = ParticipantKey.objects.filter(participant=participant).usable_at(timezone.now()).exists()
        how = "with its registered key only (no client secret)" if participant.key_only else "client secret or key"
        why = "" if usable else "No key verifies now: its signatures are refused until a valid key is added."
        return Banner("ok" if usable else "warn", f"Can authenticate: yes — active, {how}.", why)
    state = participant.state
    since = _since(participant, STATE_EVENTS[state]) if state in STATE_EVENTS else ""
    why = WHY[state]
    refused = participant.approval_refused(user) if state == "Under review" and user is not None else None
    if refused:
        why = f"{refused} Another administrator must approve it."
    return Banner(
        PILL.get(state, "quiet"), f"Can authenticate: no — {state.lower()}{' ' + since if since else ''}.", why
    )


def operations(model_admin, request, participant) -> list[Operation]:
    """The buttons this operator may press on this participant now: what the registry would accept."""
    if participant.is_final:
        return []

    def confirm(operation):
        return f"{reverse('admin:participants_participant_confirm', args=[operation])}?ids={participant.pk}"

    review, status = participant.review_status, participant.state
    may = {
        "review": model_admin.has_review_permission(request),
        "suspend": model_admin.has_suspend_permission(request),
        "rotate": model_admin.has_rotate_permission(request) and not participant.key_only,
        "change": model_admin.has_change_permission(request, participant),
        "offboard": model_admin.has_offboard_permission(request),
    }
    offered = [
        ("review", review == ReviewStatus.APPLIED, "Start review", confirm("start_review"), "primary"),
        ("review", participant.approval_refused(request.user) is None, "Approve", confirm("approve"), "primary"),
        ("review", review in PENDING_REVIEW, "Reject…", confirm("reject"), "danger"),
        ("suspend", participant.can_authenticate, "Suspend…", confirm("suspend"), "caution"),
        ("suspend", status == "Suspended", "Reinstate", confirm("reinstate"), "primary"),
        ("rotate", True, "Rotate client secret", confirm("rotate_secret"), ""),
        ("rotate", True, "Withdraw client secret…", confirm("withdraw_secret"), "caution"),
        ("change", True, "Add key", reverse("admin:participants_participant_add_key", args=[participant.pk]), ""),
        ("offboard", True, "Offboard…", confirm("offboard"), "danger offboard-link"),
    ]
    return [Operation(label, url, style) for need, applies, label, url, style in offered if may[need] and applies]
