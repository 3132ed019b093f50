"""Participants: the changelist, the participant's page (cockpit, timeline), onboarding, the one-time credentials,
adding a key and checking a signature. Confirmed operations: operations.py; filters: filters.py; key rows: keys.py."""

import re
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import CharField, F, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.db.models.lookups import IContains
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from unfold.admin import ModelAdmin

from ocen_sdk import diagnose
from ocen_sdk.jws import REASONS

from .. import one_time, services
from ..forms import (
    AddKeyForm,
    OnboardingForm,
    ParticipantChangeForm,
    SignatureCheckForm,
)
from ..models import (
    AuditAction,
    KeyStatus,
    Participant,
    ParticipantKey,
    ReviewStatus,
)
from ..wire import publication
from . import cockpit
from .common import (
    FAILURE_SIGNAL_WINDOW,
    console_time,
    expiry_badge,
    key_warnings,
    object_for,
    pill,
    short_id,
    switch_note,
    truncated,
)
from .exports import ConsoleExport, ParticipantResource
from .filters import KeyExpiryFilter, StateFilter
from .keys import ParticipantKeyInline
from .operations import ConfirmedOperations


@admin.register(Participant)
class ParticipantAdmin(ConfirmedOperations, ConsoleExport, ModelAdmin):
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
            return f"none: refused while {participant.get_state_display().lower()} (when allowed: {methods})"
        if participant.key_only:
            withdrawn = console_time(participant.secret_withdrawn_at)
            return f"{methods} (key only: no client secret since {withdrawn})"
        return methods

    @admin.display(description="failed client authentications")
    def authentication_failures(self, participant):
        """The throttles' signal (authapi/abuse.py): someone, somewhere, failing with this client ID."""
        since = timezone.now() - FAILURE_SIGNAL_WINDOW
        signals = participant.audit_events.filter(action=AuditAction.CLIENT_AUTHENTICATION_FAILURES, at__gte=since)
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
        if obj is not None and obj.change_refused():  # offboarded or rejected: kept as it is
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
