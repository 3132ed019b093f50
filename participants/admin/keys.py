"""Participant keys: read-only records; retire, revoke and make primary; the key rows of a participant's page."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline

from .. import services
from ..forms import (
    PromoteKeyForm,
    ReasonForm,
    RevokeKeyForm,
)
from ..keys import fingerprint_fragment, format_fingerprint
from ..models import KeyStatus, ParticipantKey
from .common import (
    apply_each,
    confirm_revocation,
    console_time,
    expiry_badge,
    is_published_primary,
    key_algorithm,
    key_id,
    object_for,
    pill,
    short_fingerprint,
    switch_note,
    truncated,
)


def _now_with_a_successor(key, keys=None, now=None) -> tuple:
    """(keys, now, a successor) for asking whether `key` may be revoked from the console: the primary key may be,
    with a successor chosen on its confirmation page, if any key can take its place."""
    keys = list(key.participant.keys.all()) if keys is None else keys
    now = now or timezone.now()
    return keys, now, next(iter(key.successors(keys, now)), None)


def key_label(key) -> str:
    """A key as a confirmation page lists it."""
    return f"{key.kid} of {key.participant} ({key.get_status_display()})"


@admin.register(ParticipantKey)
class ParticipantKeyAdmin(ModelAdmin):
    list_display = (key_id, "owner", "key_status", key_algorithm, short_fingerprint, "valid_from", "expiry")
    list_filter = ("status", "alg")
    list_select_related = ("participant__organisation",)
    search_fields = ("kid", "participant__organisation__name")
    search_help_text = "Key ID, organisation, or fingerprint in any format (7E:8C:…, 7e8c…)."
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

    def get_search_results(self, request, queryset, search_term):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        fragment = fingerprint_fragment(search_term)
        if fragment:
            found = found | queryset.filter(fingerprint__contains=fragment)
        return found, duplicates

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A key's page is its record, with nothing to save: keys change only through Retire, Revoke and Make
        primary, each audited."""
        if request.method == "POST":
            raise PermissionDenied
        nothing_to_save = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        record = {**(extra_context or {}), **nothing_to_save, "title": "Participant key"}
        return super().changeform_view(request, object_id, form_url, record)

    def get_urls(self):
        promote = self.admin_site.admin_view(self.promote_view)
        operation = self.admin_site.admin_view(self.operation_view)
        return [
            path("<path:object_id>/promote/", promote, name="participants_participantkey_promote"),
            *(
                path(
                    f"<path:object_id>/{name}/",
                    operation,
                    {"operation": name},
                    name=f"participants_participantkey_{name}",
                )
                for name in self.OPERATIONS
            ),
            *super().get_urls(),
        ]

    def promote_view(self, request, object_id):
        """Make a key the participant's primary key (publicKey), now or at a time."""
        key = object_for(self, request, object_id, "change")
        back = reverse("admin:participants_participant_change", args=[key.participant_id])
        if refused := key.promotion_refused(list(key.participant.keys.all()), timezone.now()):
            self.message_user(request, refused, messages.ERROR)
            return HttpResponseRedirect(back)
        form = PromoteKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                key = services.promote_participant_key(
                    participant=key.participant,
                    kid=key.kid,
                    at=form.switch_time(),
                    actor=services.Actor.from_request(request),
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                self.message_user(request, f"Key {key.kid}: {switch_note(key)}", messages.SUCCESS)
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Make {key.kid} primary",
            "opts": self.opts,
            "original": key,
            "form": form,
            "labels": [key_label(key)],
            "button": "Make primary",
            "back": back,
            "back_label": str(key.participant),
        }
        return TemplateResponse(request, "admin/participants/participantkey/promote.html", context)

    # A key row's Retire and Revoke buttons (the participant's page): a confirmation page each.
    OPERATIONS = {
        "retire": {
            "title": "Retire key {kid}",
            "intro": "The key stops being offered for new signatures; it still verifies for the retirement grace "
            "period, so signatures already in flight are accepted. Its participant must have another active key.",
            "button": "Yes, retire",
            "reason_required": None,
            "apply": lambda key, actor, data: services.retire_key(key=key, actor=actor),
            "refused": lambda key: key.retirement_refused(list(key.participant.keys.all()), timezone.now()),
            "done": "Retired",
        },
        "revoke": {
            "title": "Revoke key {kid}",
            "intro": "Revoked keys verify nothing from now on, including signatures already in flight. Use it for "
            "compromised keys; for a planned rotation, retire the key instead.",
            "button": "Yes, revoke",
            "reason_required": True,
            "apply": lambda key, actor, data: services.revoke_key(
                key=key, actor=actor, reason=data["reason"], successor_kid=data.get("successor") or None
            ),
            "refused": lambda key: key.revocation_refused(*_now_with_a_successor(key)),
            "done": "Revoked",
        },
    }

    def operation_view(self, request, object_id, operation):
        spec = self.OPERATIONS.get(operation)
        if spec is None:
            raise Http404(f"No key operation {operation!r}.")
        key = object_for(self, request, object_id, "change")
        back = reverse("admin:participants_participant_change", args=[key.participant_id])
        if refused := spec["refused"](key):  # the key's own rule, as the service will apply it
            self.message_user(request, refused, messages.ERROR)
            return HttpResponseRedirect(back)
        form = self._operation_form(operation, key, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                spec["apply"](key, services.Actor.from_request(request), form.cleaned_data)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)  # the messages name the key
            else:
                self.message_user(request, f"{spec['done']} {key.kid}.", messages.SUCCESS)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": spec["title"].format(kid=key.kid),
            "opts": self.opts,
            "intro": spec["intro"],
            "labels": [key_label(key)],
            "form": form,
            "button": spec["button"],
            "danger": spec["reason_required"],
            "back": back,
            "back_label": str(key.participant),
        }
        return TemplateResponse(request, "admin/participants/confirm_simple.html", context)

    def _operation_form(self, operation, key, data):
        if operation == "revoke":
            return RevokeKeyForm(data, successors=key.successors(list(key.participant.keys.all()), timezone.now()))
        return ReasonForm(data, reason_required=self.OPERATIONS[operation]["reason_required"])

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="participant", ordering="participant__organisation__name")
    def owner(self, key):
        return truncated(str(key.participant), wide=True)

    @admin.display(description="status", ordering="status")
    def key_status(self, key):
        return pill(KeyStatus(key.status))

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
            self,
            request,
            keys,
            title="Revoke keys",
            action="revoke",
            intro="Revoked keys verify nothing from now on, including signatures already in flight. Use it for "
            "compromised keys; for a planned rotation, retire the key instead.",
            labels=[key_label(k) for k in keys],
            revoke=lambda key, actor, reason: services.revoke_key(key=key, actor=actor, reason=reason),
        )


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
        return format_html("{}{}", pill(KeyStatus(key.status)), revoked)

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
        """Make primary, Retire, Revoke: what the registry accepts for this key now (the key's own rules), each with
        its confirmation."""
        now, keys = timezone.now(), list(key.participant.keys.all())
        offered = (
            ("Make primary…", "promote", "", key.promotion_refused(keys, now)),
            ("Retire…", "retire", "", key.retirement_refused(keys, now)),
            ("Revoke…", "revoke", "caution", key.revocation_refused(*_now_with_a_successor(key, keys, now))),
        )
        links = [(label, name, style) for label, name, style, refused in offered if refused is None]
        if not links:
            return "—"
        buttons = format_html_join(
            "",
            '<a href="{}" class="{}">{}</a>',
            (
                (reverse(f"admin:participants_participantkey_{name}", args=[key.pk]), style, label)
                for label, name, style in links
            ),
        )
        return format_html('<span class="key-ops">{}</span>', buttons)
