"""The participant operations an operator confirms: what each is, who may do it, which participants it applies to
(the model's rule for each: Participant.suspension_refused() and the like, the same the services enforce), its
confirmation page, its changelist action and its cockpit button."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from .. import services
from ..forms import ReasonForm
from ..models import AuditAction, Participant
from .common import _is_uuid, apply_each


@dataclass(frozen=True)
class Operation:
    """One confirmed operation. `refused(participant, user)` is the model's rule: why the registry would refuse it
    for that participant now, or None."""

    title: str
    button: str
    permission: str  # ParticipantAdmin's has_<permission>_permission
    refused: Callable[[Participant, object], str | None]
    reason_required: bool | None  # None: the service takes no reason (no reason field); False: optional
    cockpit_label: str
    cockpit_style: str = ""  # CSS classes: "primary", "caution" or "danger" (irreversible)
    danger: bool = False  # irreversible


OPERATIONS = {
    "start_review": Operation(
        "Start the review of applications",
        "Yes, start the review",
        "review",
        lambda p, user: p.review_start_refused(),
        None,
        "Start review",
        "primary",
    ),
    "approve": Operation(
        "Approve participants",
        "Yes, approve",
        "review",
        lambda p, user: p.approval_refused(user),
        None,
        "Approve",
        "primary",
    ),
    "reject": Operation(
        "Reject applications",
        "Yes, reject",
        "review",
        lambda p, user: p.rejection_refused(),
        True,
        "Reject…",
        "danger",
        danger=True,
    ),
    "suspend": Operation(
        "Suspend participants",
        "Yes, suspend",
        "suspend",
        lambda p, user: p.suspension_refused(),
        True,
        "Suspend…",
        "caution",
    ),
    "reinstate": Operation(
        "Reinstate participants",
        "Yes, reinstate",
        "suspend",
        lambda p, user: p.reinstatement_refused(),
        None,
        "Reinstate",
        "primary",
    ),
    "rotate_secret": Operation(
        "Rotate client secrets",
        "Yes, issue new secrets",
        "rotate",
        lambda p, user: p.rotation_refused(),
        False,
        "Rotate client secret",
    ),
    "withdraw_secret": Operation(
        "Withdraw client secrets (key only from now on)",
        "Yes, withdraw the secrets",
        "rotate",
        lambda p, user: p.secret_withdrawal_refused(timezone.now()),
        True,
        "Withdraw client secret…",
        "caution",
        danger=True,
    ),
    "offboard": Operation(
        "Offboard participants",
        "Yes, offboard",
        "offboard",
        lambda p, user: p.offboarding_refused(),
        True,
        "Offboard…",
        "danger offboard-link",
        danger=True,
    ),
}


def confirm_url(operation: str, participant) -> str:
    return f"{reverse('admin:participants_participant_confirm', args=[operation])}?ids={participant.pk}"


class ConfirmedOperations:
    """ParticipantAdmin's confirmation pages and changelist actions, for OPERATIONS."""

    def may(self, request, operation: str) -> bool:
        return getattr(self, f"has_{OPERATIONS[operation].permission}_permission")(request)

    def confirm_view(self, request, operation):
        if operation not in OPERATIONS or not self.may(request, operation):
            raise PermissionDenied
        participants, left_out = self._eligible(operation, self._chosen_current(request), request.user)
        changelist = reverse("admin:participants_participant_changelist")
        if not participants:
            self._nothing_to_do(request, left_out)
            return HttpResponseRedirect(changelist)
        form = self._confirmation_form(operation, participants, request.POST if request.POST.get("confirmed") else None)
        if not (form.is_bound and form.is_valid()):
            return self._confirmation_page(request, operation, participants, form, left_out)
        confirmed = {
            "start_review": self._status_confirmed(services.start_review, "Review started for", takes_reason=False),
            "approve": self._status_confirmed(services.approve_participant, "Approved", takes_reason=False),
            "reinstate": self._status_confirmed(services.reinstate_participant, "Reinstated", takes_reason=False),
            "suspend": self._status_confirmed(services.suspend_participant, "Suspended"),
            "reject": self._status_confirmed(services.reject_participant, "Rejected"),
            "rotate_secret": self._rotate_confirmed,
            "withdraw_secret": self._status_confirmed(
                services.withdraw_client_secret, "Key only from now on (client secret withdrawn)"
            ),
            "offboard": self._status_confirmed(services.offboard_participant, "Offboarded"),
        }[operation]
        back = (
            changelist
            if len(participants) > 1
            else reverse("admin:participants_participant_change", args=[participants[0].pk])
        )
        return confirmed(request, participants, form.cleaned_data.get("reason", "")) or HttpResponseRedirect(back)

    def _confirmation_form(self, operation, participants, data=None) -> ReasonForm:
        """The reason (where the service takes one) and, to offboard one participant, its organisation's name typed."""
        typed = participants[0].organisation.name if operation == "offboard" and len(participants) == 1 else None
        return ReasonForm(data, reason_required=OPERATIONS[operation].reason_required, type_to_confirm=typed)

    def _confirmation_page(self, request, operation, participants, form, left_out=()):
        """What the operation will do to each participant (and which chosen ones it leaves out), and the button."""
        context = {
            **self.admin_site.each_context(request),
            "title": OPERATIONS[operation].title,
            "opts": self.opts,
            "operation": operation,
            "spec": OPERATIONS[operation],
            "participants": participants,
            "plans": [services.plan_offboarding(p) for p in participants] if operation == "offboard" else [],
            "form": form,
            "left_out": left_out,
            "four_eyes": settings.OCEN_FOUR_EYES,
            "product_withdrawn_label": AuditAction.PRODUCT_WITHDRAWN.label,
        }
        return TemplateResponse(request, "admin/participants/participant/confirm.html", context)

    def _chosen_current(self, request) -> list[Participant]:
        """The current (not offboarded) participants a confirmation page is about, from its ids."""
        ids = request.POST.getlist("ids") if request.method == "POST" else request.GET.get("ids", "").split(",")
        return list(
            Participant.objects.current()
            .select_related("organisation", "application")
            .filter(pk__in=[i for i in ids if _is_uuid(i)])
        )

    def _status_confirmed(self, service, verb, takes_reason=True):
        """A confirmed operation that applies `service` (with the reason, if it takes one) to each participant and
        says what it did."""

        def confirmed(request, participants, reason):
            actor = services.Actor.from_request(request)
            given = {"reason": reason} if takes_reason else {}
            done = apply_each(self, request, participants, lambda p: service(participant=p, actor=actor, **given))
            if done:
                self.message_user(request, f"{verb}: {', '.join(str(p) for p in done)}.", messages.SUCCESS)

        return confirmed

    def _rotate_confirmed(self, request, participants, reason):
        actor = services.Actor.from_request(request)
        issued = apply_each(
            self,
            request,
            participants,
            lambda p: services.rotate_client_secret(participant=p, actor=actor, reason=reason),
        )
        return self._show_credentials_once(request, issued, "rotated") if issued else None

    # --- actions ------------------------------------------------------------------------------

    def _run(self, request, queryset, operation, service, verb):
        """An operation with nothing to confirm (no reason, nothing irreversible), applied from the list at once to
        the chosen participants its rule allows; those it leaves out are named, with why."""
        chosen = queryset.current().select_related("organisation", "application")
        participants, left_out = self._eligible(operation, chosen, request.user)
        if left_out:
            self._nothing_to_do(request, left_out, "Left out")
        actor = services.Actor.from_request(request)
        done = apply_each(self, request, participants, lambda p: service(participant=p, actor=actor))
        if done:
            self.message_user(request, f"{verb} {len(done)} participant(s).", messages.SUCCESS)

    @admin.action(description="Start the review of selected applications", permissions=["review"])
    def start_review(self, request, queryset):
        self._run(request, queryset, "start_review", services.start_review, "Review started for")

    @admin.action(description="Approve selected participants", permissions=["review"])
    def approve(self, request, queryset):
        self._run(request, queryset, "approve", services.approve_participant, "Approved")

    @admin.action(description="Reject selected applications…", permissions=["review"])
    def reject(self, request, queryset):
        return self._confirmation_for(request, "reject", queryset)

    @admin.action(description="Suspend selected participants (revokes their tokens)…", permissions=["suspend"])
    def suspend(self, request, queryset):
        return self._confirmation_for(request, "suspend", queryset)

    @admin.action(description="Reinstate selected participants", permissions=["suspend"])
    def reinstate(self, request, queryset):
        self._run(request, queryset, "reinstate", services.reinstate_participant, "Reinstated")

    @admin.action(description="Rotate client secret of selected participants…", permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        return self._confirmation_for(request, "rotate_secret", queryset)

    @admin.action(description="Withdraw client secret of selected participants (key only)…", permissions=["rotate"])
    def withdraw_secret(self, request, queryset):
        return self._confirmation_for(request, "withdraw_secret", queryset)

    @admin.action(description="Offboard selected participants…", permissions=["offboard"])
    def offboard(self, request, queryset):
        return self._confirmation_for(request, "offboard", queryset)

    def _confirmation_for(self, request, operation, queryset):
        """The confirmation page itself, as the action's answer: its form posts the ids in the body to confirm_view
        (an address carrying every id would outgrow a proxy's request line past about a hundred)."""
        chosen = queryset.current().select_related("organisation", "application")
        participants, left_out = self._eligible(operation, chosen, request.user)
        if not participants:
            self._nothing_to_do(request, left_out)
            return None
        return self._confirmation_page(
            request, operation, participants, self._confirmation_form(operation, participants), left_out
        )

    def _eligible(self, operation, chosen, user) -> tuple[list[Participant], list[Participant]]:
        """The chosen participants the operation applies to, and those it leaves out, each with why (the registry
        would refuse)."""
        refused = OPERATIONS[operation].refused
        applies, left_out = [], []
        for p in chosen:
            p.left_out_because = refused(p, user)  # what the page and the message say of one left out
            (left_out if p.left_out_because else applies).append(p)
        return applies, left_out

    def _nothing_to_do(self, request, left_out, heading="Nothing to do") -> None:
        names = ", ".join(f"{p} ({p.left_out_because})" for p in left_out) or "none chosen is current"
        self.message_user(request, f"{heading}: {names}.", messages.WARNING)
