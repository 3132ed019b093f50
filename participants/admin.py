import base64
import datetime as dt
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from ocen_sdk import diagnose

from . import one_time, services
from .forms import (
    AddKeyForm,
    OnboardingForm,
    OrganisationForm,
    ParticipantChangeForm,
    PromoteKeyForm,
    ReasonForm,
    SignatureCheckForm,
)
from .keys import format_fingerprint
from .models import AuditEvent, KeyStatus, OperationalStatus, Organisation, Participant, ParticipantKey, primary_key
from .wire import publication

# Tokens and client hashes are not for browsing: the registry's own pages show what operators need.
for _model in (
    get_application_model(),
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

EXPIRY_WARNING = dt.timedelta(days=30)
FAILURE_SIGNAL_WINDOW = dt.timedelta(hours=24)
EXPIRY_NOTICE = dt.timedelta(days=90)


def expiry_badge(moment):
    """A key expiry, coloured by urgency (red: expired or within 30 days; amber: within 90)."""
    if moment is None:
        return format_html('<span style="color:var(--body-quiet-color)">{}</span>', "no expiry")
    remaining = moment - timezone.now()
    colour = "#ba2121" if remaining < EXPIRY_WARNING else "#c77c02" if remaining < EXPIRY_NOTICE else "#2e7d32"
    label = "expired " if remaining.total_seconds() <= 0 else ""
    try:
        shown = timezone.localtime(moment).strftime("%Y-%m-%d")
    except OverflowError:  # a moment so late that the local time zone overflows it
        shown = f"{moment:%Y-%m-%d} UTC"
    return format_html(
        '<span style="color:{};font-weight:600" title="{}">{}{}</span>', colour, moment.isoformat(), label, shown
    )


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A record operators may read but never add, edit or delete in the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RowCount(Subquery):
    """How many rows of `queryset` (filtered on OuterRef) each changelist row has, as a correlated
    subquery: it runs for the page's rows only and stays out of the changelist's own count, where a
    COUNT over a JOIN would group the whole table (the changelists stay fast at 100,000 rows)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) counted)"
    output_field = models.IntegerField()

    def __init__(self, queryset, **extra):
        super().__init__(queryset.order_by().values("pk"), **extra)


def apply_each(model_admin, request, objects, operation) -> list:
    """Run `operation` on each object; report each refusal (ValidationError) to the user; return the results."""
    results = []
    for obj in objects:
        try:
            results.append(operation(obj))
        except ValidationError as exc:
            model_admin.message_user(request, f"{obj}: {' '.join(exc.messages)}", messages.ERROR)
    return results


@admin.display(description="fingerprint")
def short_fingerprint(key) -> str:
    """The first bytes of a key's SHA-256 fingerprint, enough to tell keys apart in a list."""
    return format_fingerprint(key.fingerprint)[:23] + "…"


class OperationalStatusFilter(admin.SimpleListFilter):
    """Current participants (active or suspended) by default; offboarded tombstones when asked for."""

    title = "status"
    parameter_name = "status"
    CURRENT = "current"

    def lookups(self, request, model_admin):
        return [(self.CURRENT, "Current (not offboarded)"), *OperationalStatus.choices, ("all", "All")]

    def choices(self, changelist):
        value = self.value() or self.CURRENT
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.CURRENT
        if value == "all":
            return queryset
        if value == self.CURRENT:
            return queryset.current()
        return queryset.filter(status=value)


def switch_note(key) -> str:
    """What a key's primary switch is, in words."""
    if key.primary_from is None:
        return "published for verifiers that read publicKeys; not primary until promoted."
    when = timezone.localtime(key.primary_from).strftime("%Y-%m-%d %H:%M %Z")
    if key.primary_from > timezone.now():
        return f"it becomes the primary key (publicKey) at {when}."
    return f"primary key (publicKey) since {when}."


class ParticipantKeyInline(admin.TabularInline):
    model = ParticipantKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("kid", "status", "primary", "alg", "key_size", short_fingerprint, "valid_from", "expiry", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="valid until")
    def expiry(self, key):
        return expiry_badge(key.valid_until)

    @admin.display(description="primary")
    def primary(self, key):
        if key.status != KeyStatus.ACTIVE:
            return "—"
        primary = primary_key(key.participant.keys.all(), timezone.now())
        if primary == key:
            return format_html("<strong>{}</strong>", "primary (publicKey)")
        link = reverse("admin:participants_participantkey_promote", args=[key.pk])
        return format_html('{} <a href="{}">Make primary…</a>', switch_note(key), link)


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("id", "role", "review_status", "status", "base_url")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ("name", "website", "email", "participant_count", "created_at")
    search_fields = ("name", "email")
    readonly_fields = ("id", "logo_preview", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("id", "name", "description")}),
        ("Contact", {"fields": ("website", "email", "phone")}),
        (
            "Logo",
            {
                "fields": ("logo_preview", "logo_file", "remove_logo"),
                "description": "Published as participantLogo in its participants' records: PNG or JPEG, ≤ 256 KB.",
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = [ParticipantInline]
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        participants = Participant.objects.filter(organisation=OuterRef("pk"))
        return super().get_queryset(request).annotate(_participant_count=RowCount(participants))

    @admin.display(description="participant roles", ordering="_participant_count")
    def participant_count(self, organisation):
        return organisation._participant_count

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.ORGANISATION_FIELDS if name in form.cleaned_data}
        actor = services.Actor.from_request(request)
        if change:
            services.update_organisation(organisation=Organisation(pk=obj.pk), actor=actor, **fields)
        else:
            created = services.create_organisation(actor=actor, **fields)
            obj.pk = created.pk
            obj._state.adding = False
        if form.cleaned_data.get("logo_file") or form.cleaned_data.get("remove_logo"):
            logo = form.cleaned_data.get("logo_file")
            services.set_organisation_logo(organisation=Organisation(pk=obj.pk), actor=actor,
                                           logo=logo.read() if logo else None)  # fmt: skip

    @admin.display(description="logo")
    def logo_preview(self, organisation):
        if not organisation.logo:
            return "No logo."
        encoded = base64.b64encode(bytes(organisation.logo)).decode()
        return format_html('<img alt="logo" style="max-height:64px" src="data:{};base64,{}">',
                           organisation.logo_content_type, encoded)  # fmt: skip


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    form = ParticipantChangeForm
    list_display = (
        "participant_id",
        "organisation",
        "role",
        "review_status",
        "status",
        "base_url",
        "client_id",
        "key_expiry",
    )
    list_display_links = ("participant_id",)
    list_filter = (OperationalStatusFilter, "role", "review_status")
    list_select_related = ("organisation",)
    search_fields = ("organisation__name", "=client_id")
    search_help_text = "Organisation name, participant ID or client ID."
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = (
        "id",
        "organisation",
        "role",
        "review_status",
        "status",
        "status_reason",
        "client_id",
        "authentication_failures",
        "recorded_by",
        "approved_by",
        "approved_at",
        "offboarded_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        ("Participant", {"fields": ("id", "organisation", "role", "base_url")}),
        ("Status", {"fields": ("review_status", "status", "status_reason", "offboarded_at")}),
        (
            "Credentials",
            {
                "fields": ("client_id", "authentication_failures"),
                "description": "The client secret is shown once, when issued.",
            },
        ),
        ("Record", {"fields": ("recorded_by", "approved_by", "approved_at", "created_at", "updated_at")}),
    )
    inlines = [ParticipantKeyInline]
    actions = ["approve", "reject", "suspend", "reinstate", "rotate_secret", "offboard"]

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
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(Q(pk=participant_id) | Q(organisation_id=participant_id)), False

    @admin.display(description="participant ID", ordering="id")
    def participant_id(self, participant):
        return str(participant.id)

    @admin.display(description="nearest key expiry", ordering="_key_expiry")
    def key_expiry(self, participant):
        return expiry_badge(participant._key_expiry)

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
            signals.count(), latest.details.get("failures"), timezone.localtime(latest.at).strftime("%Y-%m-%d %H:%M"),
            latest.details.get("lastSource", "?"),
        )  # fmt: skip

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
        if obj is not None and obj.is_offboarded:
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
                )
            except ValidationError as exc:
                form.add_service_errors(exc, OnboardingForm.SERVICE_FIELDS)
            else:
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
            "credentials": one_time.take(request),
        }
        return TemplateResponse(request, "admin/participants/participant/credentials.html", context)

    def add_key_view(self, request, object_id):
        participant = self.get_object(request, unquote(object_id))
        if participant is None or not self.has_change_permission(request, participant):
            raise PermissionDenied
        form = AddKeyForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                key = services.add_participant_key(
                    participant=participant, public_key=form.key_input(), primary_from=form.switch_time(),
                    actor=services.Actor.from_request(request),
                )  # fmt: skip
            except ValidationError as exc:
                form.add_service_errors(exc, {"primary_from": "switch_at"})
            else:
                self.message_user(request, f"Key {key.kid} added and active; {switch_note(key)}", messages.SUCCESS)
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
        participant = self.get_object(request, unquote(object_id))
        if participant is None or not self.has_view_permission(request, participant):
            raise PermissionDenied
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
        }
        return TemplateResponse(request, "admin/participants/participant/signature_check.html", context)

    # Operations that need a confirmation page: what each will do, and who may do it.
    CONFIRMED = {
        "offboard": {
            "title": "Offboard participants",
            "button": "Yes, offboard",
            "permission": "has_offboard_permission",
            "reason_required": True,
        },
        "rotate_secret": {
            "title": "Rotate client secrets",
            "button": "Yes, issue new secrets",
            "permission": "has_rotate_permission",
            "reason_required": False,
        },
    }

    def confirm_view(self, request, operation):
        spec = self.CONFIRMED.get(operation)
        if spec is None:
            raise PermissionDenied
        if not getattr(self, spec["permission"])(request):
            raise PermissionDenied
        ids = request.POST.getlist("ids") if request.method == "POST" else request.GET.get("ids", "").split(",")
        participants = list(
            Participant.objects.current()
            .select_related("organisation", "application")
            .filter(pk__in=[i for i in ids if _is_uuid(i)])
        )
        changelist = reverse("admin:participants_participant_changelist")
        if not participants:
            self.message_user(request, "No participant to act on (already offboarded?).", messages.WARNING)
            return HttpResponseRedirect(changelist)
        form = ReasonForm(
            request.POST if request.POST.get("confirmed") else None, reason_required=spec["reason_required"]
        )
        if form.is_bound and form.is_valid():
            actor = services.Actor.from_request(request)
            if operation == "rotate_secret":
                issued = apply_each(
                    self, request, participants, lambda p: services.rotate_client_secret(participant=p, actor=actor)
                )
                return (
                    self._show_credentials_once(request, issued, "rotated")
                    if issued
                    else HttpResponseRedirect(changelist)
                )
            reason = form.cleaned_data["reason"]
            done = apply_each(
                self,
                request,
                participants,
                lambda p: services.offboard_participant(participant=p, actor=actor, reason=reason),
            )
            if done:
                self.message_user(request, f"Offboarded: {', '.join(str(p) for p in done)}.", messages.SUCCESS)
            return HttpResponseRedirect(changelist)
        plans = [services.plan_offboarding(p) for p in participants] if operation == "offboard" else []
        context = {
            **self.admin_site.each_context(request),
            "title": spec["title"],
            "opts": self.opts,
            "operation": operation,
            "spec": spec,
            "participants": participants,
            "plans": plans,
            "form": form,
        }
        return TemplateResponse(request, "admin/participants/participant/confirm.html", context)

    # --- actions ------------------------------------------------------------------------------

    def _run(self, request, queryset, service, verb):
        actor = services.Actor.from_request(request)
        done = apply_each(self, request, queryset, lambda p: service(participant=p, actor=actor))
        if done:
            self.message_user(request, f"{verb} {len(done)} participant(s).", messages.SUCCESS)

    @admin.action(description="Approve selected participants", permissions=["review"])
    def approve(self, request, queryset):
        self._run(request, queryset, services.approve_participant, "Approved")

    @admin.action(description="Reject selected applications", permissions=["review"])
    def reject(self, request, queryset):
        self._run(request, queryset, services.reject_participant, "Rejected")

    @admin.action(description="Suspend selected participants (revokes their tokens)", permissions=["suspend"])
    def suspend(self, request, queryset):
        self._run(request, queryset, services.suspend_participant, "Suspended")

    @admin.action(description="Reinstate selected participants", permissions=["suspend"])
    def reinstate(self, request, queryset):
        self._run(request, queryset, services.reinstate_participant, "Reinstated")

    @admin.action(description="Rotate client secret of selected participants…", permissions=["rotate"])
    def rotate_secret(self, request, queryset):
        return self._confirm_redirect("rotate_secret", queryset)

    @admin.action(description="Offboard selected participants…", permissions=["offboard"])
    def offboard(self, request, queryset):
        return self._confirm_redirect("offboard", queryset)

    def _confirm_redirect(self, operation, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        url = reverse("admin:participants_participant_confirm", args=[operation])
        return HttpResponseRedirect(f"{url}?ids={ids}")

    # --- change form ------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        services.update_participant(
            participant=obj, actor=services.Actor.from_request(request), base_url=form.cleaned_data["base_url"]
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            can_rotate=self.has_rotate_permission(request),
            can_offboard=self.has_offboard_permission(request),
            can_add_key=obj is not None and self.has_change_permission(request, obj),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@admin.register(ParticipantKey)
class ParticipantKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "participant", "status", "alg", "key_size", short_fingerprint, "valid_from", "expiry")
    list_filter = ("status", "alg")
    list_select_related = ("participant__organisation",)
    search_fields = ("kid", "fingerprint", "participant__organisation__name")
    show_full_result_count = False
    fields = (
        "participant",
        "kid",
        "status",
        "alg",
        "key_type",
        "key_size",
        "fingerprint_display",
        "jwk",
        "cert_subject",
        "cert_issuer",
        "cert_serial",
        "valid_from",
        "valid_until",
        "retired_at",
        "revoked_at",
        "revocation_reason",
        "created_at",
    )
    readonly_fields = fields
    actions = ["retire", "revoke"]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        promote = self.admin_site.admin_view(self.promote_view)
        return [
            path("<path:object_id>/promote/", promote, name="participants_participantkey_promote"),
            *super().get_urls(),
        ]

    def promote_view(self, request, object_id):
        """Make a key the participant's primary key (publicKey), now or at a time."""
        key = self.get_object(request, unquote(object_id))
        if key is None or not self.has_change_permission(request, key):
            raise PermissionDenied
        form = PromoteKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                key = services.promote_participant_key(
                    participant=key.participant, kid=key.kid, at=form.switch_time(),
                    actor=services.Actor.from_request(request),
                )  # fmt: skip
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                self.message_user(request, f"Key {key.kid}: {switch_note(key)}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:participants_participant_change", args=[key.participant_id]))
        context = {**self.admin_site.each_context(request), "title": f"Make {key.kid} primary", "opts": self.opts,
                   "original": key, "form": form}  # fmt: skip
        return TemplateResponse(request, "admin/participants/participantkey/promote.html", context)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SHA-256 fingerprint")
    def fingerprint_display(self, key):
        return format_fingerprint(key.fingerprint)

    @admin.display(description="valid until", ordering="valid_until")
    def expiry(self, key):
        return expiry_badge(key.valid_until)

    @admin.action(description="Retire selected keys (they verify for the grace period)", permissions=["change"])
    def retire(self, request, queryset):
        actor = services.Actor.from_request(request)
        retired = apply_each(self, request, queryset, lambda key: services.retire_key(key=key, actor=actor))
        if retired:
            self.message_user(request, f"Retired {', '.join(k.kid for k in retired)}.", messages.SUCCESS)

    @admin.action(description="Revoke selected keys…", permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.select_related("participant__organisation"))
        return confirm_revocation(
            self, request, keys, title="Revoke keys", action="revoke",
            intro="Revoked keys verify nothing from now on, including signatures already in flight. Use it for "
            "compromised keys; for a planned rotation, retire the key instead.",
            labels=[f"{k.kid} of {k.participant} ({k.get_status_display()})" for k in keys],
            revoke=lambda key, actor, reason: services.revoke_key(key=key, actor=actor, reason=reason),
        )  # fmt: skip


def confirm_revocation(model_admin, request, objects, *, title, intro, labels, action, revoke):
    """An admin action that revokes each of `objects` after a confirmation page asking for the reason."""
    form = ReasonForm(request.POST if request.POST.get("confirmed") else None, reason_required=True)
    if form.is_bound and form.is_valid():
        actor, reason = services.Actor.from_request(request), form.cleaned_data["reason"]
        revoked = apply_each(model_admin, request, objects, lambda obj: revoke(obj, actor, reason))
        if revoked:
            model_admin.message_user(request, f"Revoked {', '.join(o.kid for o in revoked)}.", messages.SUCCESS)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "intro": intro,
        "labels": labels,
        "selected": [obj.pk for obj in objects],
        "action": action,
        "form": form,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/participants/revoke.html", context)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "actor", "action", "participant", "organisation", "remote_addr")
    list_filter = ("action",)
    list_select_related = ("participant__organisation", "organisation")
    search_fields = ("actor", "action", "=participant__id")
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ("at", "actor", "actor_user", "action", "participant", "organisation", "remote_addr", "details")
    readonly_fields = fields


from . import product_admin  # noqa: E402, F401 — registers the product registry's admin
