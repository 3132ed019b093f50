"""Participants: the changelist, onboarding, the one-time credentials, confirmations and key pages."""

import datetime as dt
import re
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.db.models.lookups import IContains
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.cache import never_cache
from unfold.admin import ModelAdmin, TabularInline

from ocen_sdk import diagnose
from ocen_sdk.jws import REASONS

from .. import one_time, services
from ..forms import (
    AddKeyForm,
    OnboardingForm,
    ParticipantChangeForm,
    ReasonForm,
    SignatureCheckForm,
)
from ..models import (
    NOT_OFFBOARDED,
    PARTICIPANT_STATES,
    PENDING_REVIEW,
    KeyStatus,
    Participant,
    ParticipantKey,
    ReviewStatus,
    primary_key,
)
from ..wire import publication
from . import cockpit
from .common import (
    EXPIRY_NOTICE,
    EXPIRY_WARNING,
    FAILURE_SIGNAL_WINDOW,
    _is_uuid,
    apply_each,
    console_time,
    expiry_badge,
    is_published_primary,
    key_algorithm,
    key_id,
    key_warnings,
    object_for,
    pill,
    short_fingerprint,
    short_id,
    switch_note,
    truncated,
)
from .exports import ConsoleExport, ParticipantResource


class StateFilter(admin.SimpleListFilter):
    """By state, as the list's state column shows it (PARTICIPANT_STATES); current participants (not offboarded)
    by default, offboarded tombstones when asked for."""

    title = "state"
    parameter_name = "state"
    CURRENT = "current"

    def lookups(self, request, model_admin):
        states = [(state, state) for state in PARTICIPANT_STATES]
        return [(self.CURRENT, "Current (not offboarded)"), *states, ("all", "All")]

    def rule(self, lookup: str) -> Q | None:
        """The filter for a lookup: None for all, an impossible one for a lookup that is none of them."""
        if lookup == "all":
            return None
        if lookup == self.CURRENT:
            return NOT_OFFBOARDED
        return PARTICIPANT_STATES.get(lookup, Q(pk__in=[]))

    def choices(self, changelist):
        value = self.value() or self.CURRENT
        counts = self.get_facet_queryset(changelist) if changelist.add_facets else {}
        for i, (lookup, title) in enumerate(self.lookup_choices):
            count = f" ({counts[f'{i}__c']})" if f"{i}__c" in counts else ""
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": f"{title}{count}",
            }

    def get_facet_counts(self, pk_attname, filtered_qs):
        """ "Show counts": one pass over the list, a count per state."""
        return {
            f"{i}__c": Count(pk_attname, filter=rule) if (rule := self.rule(lookup)) is not None else Count(pk_attname)
            for i, (lookup, _) in enumerate(self.lookup_choices)
        }

    def queryset(self, request, queryset):
        rule = self.rule(self.value() or self.CURRENT)
        return queryset if rule is None else queryset.filter(rule)


class KeyExpiryFilter(admin.SimpleListFilter):
    """By the expiry of a participant's active keys: the ones to chase for a new key, soonest first."""

    title = "key expiry"
    parameter_name = "key_expiry"
    WINDOWS = {"30": EXPIRY_WARNING, "90": EXPIRY_NOTICE}

    def lookups(self, request, model_admin):
        return [("30", "Expiring within 30 days"), ("90", "Expiring within 90 days"), ("expired", "Already expired")]

    def rule(self, lookup: str, now) -> Q:
        if lookup == "expired":
            keys = ParticipantKey.objects.filter(status=KeyStatus.ACTIVE, valid_until__lte=now)
        else:
            keys = ParticipantKey.objects.expiring_between(now, now + self.WINDOWS.get(lookup, dt.timedelta(0)))
        return Q(Exists(keys.filter(participant=OuterRef("pk"))))

    def get_facet_counts(self, pk_attname, filtered_qs):
        now = timezone.now()
        return {
            f"{i}__c": Count(pk_attname, filter=self.rule(lookup, now))
            for i, (lookup, _) in enumerate(self.lookup_choices)
        }

    def queryset(self, request, queryset):
        return queryset.filter(self.rule(self.value(), timezone.now())) if self.value() else queryset


VERIFIES = {
    "": "yes",
    "key_revoked": "no: revoked",
    "key_withheld": "no: withheld while suspended",
    "key_expired": "no: outside its validity",
}


class ParticipantKeyInline(TabularInline):
    model = ParticipantKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        key_id,
        "key_status",
        "primary",
        "verifies_now",
        key_algorithm,
        short_fingerprint,
        "valid_from",
        "expiry",
        "operations",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        """A key's operations column only for those who may operate on keys (viewers read the rest)."""
        fields = super().get_fields(request, obj)
        if request.user.has_perm("participants.change_participantkey"):
            return fields
        return [f for f in fields if f != "operations"]

    def get_queryset(self, request):
        # Each row asks which of its participant's keys is primary: one query for all of them.
        return super().get_queryset(request).select_related("participant").prefetch_related("participant__keys")

    @admin.display(description="valid until")
    def expiry(self, key):
        return expiry_badge(key.valid_until)

    @admin.display(description="status")
    def key_status(self, key):
        revoked = f" {console_time(key.revoked_at)}" if key.revoked_at else ""
        return format_html("{}{}", pill(key.get_status_display()), revoked)

    @admin.display(description="verifies now")
    def verifies_now(self, key):
        """What a verifier does with this key's signatures now (ocen_sdk's rule on the published row)."""
        return VERIFIES.get(key.unusable_at(timezone.now()), "no")

    @admin.display(description="primary")
    def primary(self, key):
        if key.status != KeyStatus.ACTIVE:
            return "—"
        if is_published_primary(key):
            return format_html("<strong>{}</strong>", "primary (publicKey)")
        return switch_note(key)

    @admin.display(description="operations")
    def operations(self, key):
        """Make primary, Retire, Revoke: what the registry accepts for this key now (each with its confirmation)."""
        if key.status == KeyStatus.REVOKED or key.participant.is_final:
            return "—"
        now, keys = timezone.now(), list(key.participant.keys.all())
        links = [("Revoke…", "revoke", "caution")]
        if key.retirement_refused(keys, now) is None:
            links[:0] = [("Retire…", "retire", "")]
        if key.status == KeyStatus.ACTIVE and primary_key(keys, now) != key:
            links[:0] = [("Make primary…", "promote", "")]
        buttons = format_html_join(
            "",
            '<a href="{}" class="{}">{}</a>',
            (
                (reverse(f"admin:participants_participantkey_{name}", args=[key.pk]), style, label)
                for label, name, style in links
            ),
        )
        return format_html('<span class="key-ops">{}</span>', buttons)


@admin.register(Participant)
class ParticipantAdmin(ConsoleExport, ModelAdmin):
    form = ParticipantChangeForm
    resource_classes = (ParticipantResource,)
    # One line per participant at 1280 px: long identifiers shortened (whole in the tooltip, copied by the button).
    list_display = (
        "organisation_name",
        "participant_id",
        "role",
        "state",
        "client",
        "api_base_url",
        "key_expiry",
    )
    list_display_links = ("organisation_name",)
    list_filter = (StateFilter, "role", KeyExpiryFilter)
    # Counts on request ("Show counts"): a facet per filter choice is a count over every row, and the key expiry
    # filter's a subquery per participant (about a second at 100,000 participants), too dear for every page view.
    show_facets = admin.ShowFacets.ALLOW
    list_select_related = ("organisation",)
    search_fields = ("organisation__name", "client_id", "base_url")
    search_help_text = "Organisation name, client ID, base URL, or participant ID (whole or part)."
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = (
        "id",
        "organisation",
        "role",
        "state",
        "review_status",
        "status",
        "status_reason",
        "client_id",
        "client_authentication",
        "authentication_failures",
        "recorded_by_name",
        "approved_by_name",
        "approved_at",
        "offboarded_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        ("Participant", {"fields": ("id", "organisation", "role", "base_url")}),
        ("Status", {"fields": ("state", "review_status", "status", "status_reason", "offboarded_at")}),
        (
            "Credentials",
            {
                "fields": ("client_id", "client_authentication", "authentication_failures"),
                "description": "The client secret is shown once, when issued.",
            },
        ),
        ("Record", {"fields": ("recorded_by_name", "approved_by_name", "approved_at", "created_at", "updated_at")}),
    )
    inlines = [ParticipantKeyInline]
    actions = [
        "start_review",
        "approve",
        "reject",
        "suspend",
        "reinstate",
        "rotate_secret",
        "withdraw_secret",
        "offboard",
    ]

    # --- changelist -------------------------------------------------------------------------

    def get_queryset(self, request):
        # A correlated subquery, not a JOIN with GROUP BY: it runs for the page's rows only, and the
        # changelist's count leaves it out (the changelist stays fast at 100,000 participants).
        nearest_expiry = (
            ParticipantKey.objects.filter(participant=OuterRef("pk"), status=KeyStatus.ACTIVE)
            .order_by(F("valid_until").asc(nulls_last=True))
            .values("valid_until")[:1]
        )
        return super().get_queryset(request).annotate(_key_expiry=Subquery(nearest_expiry))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            participant_id = uuid.UUID(term)
        except ValueError:
            found, duplicates = super().get_search_results(request, queryset, search_term)
            if re.fullmatch(r"[0-9a-fA-F-]{4,}", term):  # part of a participant ID, as the list shows them
                found = found | queryset.filter(IContains(Cast("id", output_field=CharField()), term))
            return found, duplicates
        return queryset.filter(Q(pk=participant_id) | Q(organisation_id=participant_id)), False

    @admin.display(description="ID", ordering="id")
    def participant_id(self, participant):
        return short_id(participant.id)

    @admin.display(description="client ID", ordering="client_id")
    def client(self, participant):
        return short_id(participant.client_id) if participant.client_id else "—"

    @admin.display(description="API base URL", ordering="base_url")
    def api_base_url(self, participant):
        return truncated(participant.base_url)

    # Who recorded and approved it, as names: a link to the user's page would lead viewers (and most
    # administrators) to a page they may not open.
    @admin.display(description="recorded by")
    def recorded_by_name(self, participant):
        return participant.recorded_by.get_username() if participant.recorded_by else "—"

    @admin.display(description="approved by")
    def approved_by_name(self, participant):
        return participant.approved_by.get_username() if participant.approved_by else "—"

    @admin.display(description="state")
    def state(self, participant):
        """What the registry does with it (Participant.state): an application is not "Active"."""
        return pill(participant.state)

    @admin.display(description="organisation", ordering="organisation__name")
    def organisation_name(self, participant):
        """The organisation, sortable by its name: the list's own order (organisation, then role), shown as such."""
        name = participant.organisation.name
        return truncated(name, wide=True)

    # Soonest first; a key that never expires sorts last (descending: first).
    @admin.display(description="key expiry", ordering=F("_key_expiry").asc(nulls_last=True))
    def key_expiry(self, participant):
        return expiry_badge(participant._key_expiry)

    @admin.display(description="client authentication")
    def client_authentication(self, participant):
        """The token endpoint's methods this participant can use (withdraw_client_secret makes it key-only)."""
        methods = ", ".join(participant.client_auth_methods)
        if not participant.can_authenticate:
            return f"none: refused while {participant.state.lower()} (when allowed: {methods})"
        if participant.key_only:
            withdrawn = console_time(participant.secret_withdrawn_at)
            return f"{methods} (key only: no client secret since {withdrawn})"
        return methods

    @admin.display(description="failed client authentications")
    def authentication_failures(self, participant):
        """The throttles' signal (authapi/abuse.py): someone, somewhere, failing with this client ID."""
        since = timezone.now() - FAILURE_SIGNAL_WINDOW
        signals = participant.audit_events.filter(action="client.authentication_failures", at__gte=since)
        latest = signals.order_by("-at").first()
        if latest is None:
            return "None reported in the last 24 hours."
        return format_html(
            '<span style="color:#ba2121;font-weight:600">{} burst(s) of {} or more failures in the last 24 hours</span>'
            "; latest {}, last from {}. A lock it is not: sources that fail are throttled on their own.",
            signals.count(),
            latest.details.get("failures"),
            console_time(latest.at),
            latest.details.get("lastSource", "?"),
        )

    # --- permissions --------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm("participants.review_participant")

    def has_suspend_permission(self, request):
        return request.user.has_perm("participants.suspend_participant")

    def has_rotate_permission(self, request):
        return request.user.has_perm("participants.rotate_client_secret")

    def has_offboard_permission(self, request):
        return request.user.has_perm("participants.offboard_participant")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_final:  # offboarded or rejected: kept as it is
            return False
        return super().has_change_permission(request, obj)

    # --- onboarding, credentials and confirmation views -----------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("credentials/", wrap(self.credentials_view), name="participants_participant_credentials"),
            path("confirm/<str:operation>/", wrap(self.confirm_view), name="participants_participant_confirm"),
            path("<path:object_id>/add-key/", wrap(self.add_key_view), name="participants_participant_add_key"),
            path(
                "<path:object_id>/signature-check/",
                wrap(self.signature_check_view),
                name="participants_participant_signature_check",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OnboardingForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                credentials = services.onboard_participant(
                    organisation=form.cleaned_data["organisation"],
                    org_name=form.cleaned_data["new_organisation_name"],
                    role=form.cleaned_data["role"],
                    base_url=form.cleaned_data["base_url"],
                    public_key=form.key_input(),
                    actor=services.Actor.from_request(request),
                    key_only=form.cleaned_data["key_only"],
                    pending=ReviewStatus.APPLIED if form.cleaned_data["as_application"] else None,
                )
            except ValidationError as exc:
                form.add_service_errors(exc, OnboardingForm.SERVICE_FIELDS)
            else:
                self._warn_about(request, credentials.participant.keys.get())
                return self._show_credentials_once(request, [credentials], "onboarded")
        context = {
            **self.admin_site.each_context(request),
            "title": "Onboard a participant",
            "opts": self.opts,
            "form": form,
            "four_eyes": settings.OCEN_FOUR_EYES,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/participants/participant/onboard.html", context)

    def _warn_about(self, request, key):
        for warning in key_warnings(key):
            self.message_user(request, warning, messages.WARNING)

    def _show_credentials_once(self, request, credentials_list, event):
        one_time.stash(
            request,
            [
                {
                    **credentials.as_json(),
                    "event": event,
                    "name": str(credentials.participant),
                    "reviewStatus": credentials.participant.review_status,
                }
                for credentials in credentials_list
            ],
        )
        return HttpResponseRedirect(reverse("admin:participants_participant_credentials"))

    @method_decorator(never_cache)
    def credentials_view(self, request):
        context = {
            **self.admin_site.each_context(request),
            "title": "Client credentials",
            "opts": self.opts,
        }
        context["credentials"] = credentials = one_time.take(request)
        context["has_secret"] = any(c.get("clientSecret") for c in credentials or [])
        return TemplateResponse(request, "admin/participants/participant/credentials.html", context)

    def add_key_view(self, request, object_id):
        participant = object_for(self, request, object_id, "change")
        form = AddKeyForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                key = services.add_participant_key(
                    participant=participant,
                    public_key=form.key_input(),
                    primary_from=form.switch_time(),
                    actor=services.Actor.from_request(request),
                )
            except ValidationError as exc:
                form.add_service_errors(exc, {"primary_from": "switch_at"})
            else:
                self.message_user(request, f"Key {key.kid} added and active; {switch_note(key)}", messages.SUCCESS)
                self._warn_about(request, key)
                return HttpResponseRedirect(reverse("admin:participants_participant_change", args=[participant.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Add key",
            "opts": self.opts,
            "original": participant,
            "form": form,
        }
        return TemplateResponse(request, "admin/participants/participant/add_key.html", context)

    def signature_check_view(self, request, object_id):
        """Paste a body and its x-jws-signature: the toolkit's own check explains each step."""
        participant = object_for(self, request, object_id, "view")
        form = SignatureCheckForm(request.POST or None)
        diagnosis = None
        if request.method == "POST" and form.is_valid():
            keys = publication(participant, list(participant.keys.all())).items  # as verifiers see them
            diagnosis = diagnose(form.cleaned_data["body"].encode("utf-8"), form.cleaned_data["signature"], keys)
        context = {
            **self.admin_site.each_context(request),
            "title": "Check a signature",
            "opts": self.opts,
            "original": participant,
            "form": form,
            "diagnosis": diagnosis,
            "reason_words": REASONS.get(diagnosis.reason, diagnosis.reason) if diagnosis else "",
        }
        return TemplateResponse(request, "admin/participants/participant/signature_check.html", context)

    # Operations that need a confirmation page: what each will do, and who may do it.
    CONFIRMED = {
        "start_review": {
            "title": "Start the review of applications",
            "button": "Yes, start the review",
            "permission": "has_review_permission",
            "reason_required": None,  # the service takes no reason: no reason field
            "eligible": lambda p, user: p.review_status == ReviewStatus.APPLIED,
        },
        "approve": {
            "title": "Approve participants",
            "button": "Yes, approve",
            "permission": "has_review_permission",
            "reason_required": None,
            "eligible": lambda p, user: p.approval_refused(user) is None,
            "refused": lambda p, user: p.approval_refused(user),
        },
        "reinstate": {
            "title": "Reinstate participants",
            "button": "Yes, reinstate",
            "permission": "has_suspend_permission",
            "reason_required": None,
            "eligible": lambda p, user: p.is_approved and p.state == "Suspended",
        },
        "offboard": {
            "danger": True,  # irreversible
            "title": "Offboard participants",
            "button": "Yes, offboard",
            "permission": "has_offboard_permission",
            "reason_required": True,
            "eligible": lambda p, user: not p.is_final,
        },
        "rotate_secret": {
            "title": "Rotate client secrets",
            "button": "Yes, issue new secrets",
            "permission": "has_rotate_permission",
            "reason_required": False,
            "eligible": lambda p, user: not (p.is_final or p.key_only),
        },
        "suspend": {
            "title": "Suspend participants",
            "button": "Yes, suspend",
            "permission": "has_suspend_permission",
            "reason_required": True,
            "eligible": lambda p, user: p.can_authenticate,
        },
        "reject": {
            "danger": True,  # irreversible
            "title": "Reject applications",
            "button": "Yes, reject",
            "permission": "has_review_permission",
            "reason_required": True,
            "eligible": lambda p, user: p.review_status in PENDING_REVIEW,
        },
        "withdraw_secret": {
            "danger": True,  # irreversible
            "title": "Withdraw client secrets (key only from now on)",
            "button": "Yes, withdraw the secrets",
            "permission": "has_rotate_permission",
            "reason_required": True,
            "eligible": lambda p, user: not (p.is_final or p.key_only),
        },
    }

    def confirm_view(self, request, operation):
        spec = self.CONFIRMED.get(operation)
        if spec is None or not getattr(self, spec["permission"])(request):
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
        spec = self.CONFIRMED[operation]
        typed = participants[0].organisation.name if operation == "offboard" and len(participants) == 1 else None
        return ReasonForm(data, reason_required=spec["reason_required"], type_to_confirm=typed)

    def _confirmation_page(self, request, operation, participants, form, left_out=()):
        """What the operation will do to each participant (and which chosen ones it leaves out), and the button."""
        context = {
            **self.admin_site.each_context(request),
            "title": self.CONFIRMED[operation]["title"],
            "opts": self.opts,
            "operation": operation,
            "spec": self.CONFIRMED[operation],
            "participants": participants,
            "plans": [services.plan_offboarding(p) for p in participants] if operation == "offboard" else [],
            "form": form,
            "left_out": left_out,
            "four_eyes": settings.OCEN_FOUR_EYES,
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

    def _run(self, request, queryset, service, verb):
        actor = services.Actor.from_request(request)
        done = apply_each(self, request, queryset, lambda p: service(participant=p, actor=actor))
        if done:
            self.message_user(request, f"{verb} {len(done)} participant(s).", messages.SUCCESS)

    @admin.action(description="Start the review of selected applications", permissions=["review"])
    def start_review(self, request, queryset):
        self._run(request, queryset, services.start_review, "Review started for")

    @admin.action(description="Approve selected participants", permissions=["review"])
    def approve(self, request, queryset):
        self._run(request, queryset, services.approve_participant, "Approved")

    @admin.action(description="Reject selected applications…", permissions=["review"])
    def reject(self, request, queryset):
        return self._confirmation_for(request, "reject", queryset)

    @admin.action(description="Suspend selected participants (revokes their tokens)…", permissions=["suspend"])
    def suspend(self, request, queryset):
        return self._confirmation_for(request, "suspend", queryset)

    @admin.action(description="Reinstate selected participants", permissions=["suspend"])
    def reinstate(self, request, queryset):
        self._run(request, queryset, services.reinstate_participant, "Reinstated")

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
        """The chosen participants the operation applies to, and those it leaves out (the registry would refuse)."""
        spec = self.CONFIRMED[operation]
        eligible, refused = spec["eligible"], spec.get("refused", lambda p, user: p.state)
        applies, left_out = [], []
        for p in chosen:
            (applies if eligible(p, user) else left_out).append(p)
        for p in left_out:
            p.left_out_because = refused(p, user)  # what the page and the message say of it
        return applies, left_out

    def _nothing_to_do(self, request, left_out) -> None:
        names = ", ".join(f"{p} ({p.left_out_because})" for p in left_out) or "none chosen is current"
        self.message_user(request, f"Nothing to do: {names}.", messages.WARNING)

    # --- change form and timeline ---------------------------------------------------------------

    TIMELINE_PAGE = 50

    def history_view(self, request, object_id, extra_context=None):
        """The participant's timeline, from its audit events (who, what, when, from where, why), newest first.
        It replaces Django's History, which knows only the admin's own saves. TIMELINE_PAGE events a page."""
        participant = object_for(self, request, object_id, "view")
        events = participant.audit_events.select_related("actor_user").order_by("-at", "-pk")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Timeline of {participant}",
            "opts": self.opts,
            "original": participant,
            "page": Paginator(events, self.TIMELINE_PAGE).get_page(request.GET.get("page")),
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, "admin/participants/participant/timeline.html", context)

    def save_model(self, request, obj, form, change):
        services.update_participant(
            participant=obj, actor=services.Actor.from_request(request), base_url=form.cleaned_data["base_url"]
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["show_save_and_add_another"] = False  # a participant is added on its onboarding page
        if obj is not None:
            context.update(banner=cockpit.banner(obj, request.user), operations=cockpit.operations(self, request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)
