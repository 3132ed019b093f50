"""What the registry's admin pages share: read-only admins, counts, expiry badges, confirmations."""

import datetime as dt
import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Subquery
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from .. import services
from ..forms import (
    ReasonForm,
)
from ..keys import format_fingerprint
from ..wire import publication

EXPIRY_WARNING = dt.timedelta(days=30)
FAILURE_SIGNAL_WINDOW = dt.timedelta(hours=24)
EXPIRY_NOTICE = dt.timedelta(days=90)


def object_for(model_admin, request, object_id, permission: str):
    """The object a custom admin view acts on: PermissionDenied without `permission` ("view" or
    "change"), 404 when there is no such object."""
    check = getattr(model_admin, f"has_{permission}_permission")
    if not check(request):
        raise PermissionDenied
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model_admin.opts.verbose_name} with id {object_id!r}.")
    if not check(request, obj):
        raise PermissionDenied
    return obj


# The colour of each state's pill, by value (participant states, review, key, product and subscription statuses):
# what the registry does with such a record, at a glance.
PILL = {
    "ACTIVE": "ok",
    "APPROVED": "ok",
    "APPLIED": "info",
    "UNDER_REVIEW": "info",
    "SUSPENDED": "warn",
    "PAUSED": "warn",
    "RETIRED": "quiet",
    "REJECTED": "stop",
    "REVOKED": "stop",
    "OFFBOARDED": "quiet",
    "WITHDRAWN": "quiet",
}


def pill(choice):
    """A state or status (a member of its TextChoices) as a coloured pill, its label as the text."""
    return format_html('<span class="pill pill-{}">{}</span>', PILL.get(choice, "quiet"), choice.label)


def truncated(text, wide: bool = False):
    """Text cut to its cell's width with an ellipsis (whole in the tooltip), so a list keeps one line per row."""
    return format_html('<span class="truncate-cell{}" title="{}">{}</span>', " wide" if wide else "", text, text)


def short_id(value, length: int = 8):
    """A long identifier shortened for a list, whole in its tooltip and on the clipboard (console.js's copy button)."""
    value = str(value)
    shown = value if len(value) <= length + 1 else f"{value[:length]}…"
    return format_html(
        '<span class="id-cell"><span class="short-id" title="{}">{}</span><button type="button" class="copy" '
        'data-copy="{}" title="Copy {}">Copy</button></span>',
        value,
        shown,
        value,
        value,
    )


def key_warnings(key, now=None) -> list[str]:
    """What an operator should know about a key just registered: a validity that has not begun (its
    signatures are refused until then) or that ends within 30 days (ask for the next key now)."""
    now = now or timezone.now()
    what = "certificate" if key.cert_subject else "key"
    warnings = []
    if key.valid_from > now:
        warnings.append(
            f"Key {key.kid}: its {what} is not valid until {console_time(key.valid_from)}; "
            "signatures by it are refused until then."
        )
    if key.valid_until is not None and key.valid_until - now < EXPIRY_WARNING:
        days = max((key.valid_until - now).days, 0)
        warnings.append(
            f"Key {key.kid}: its {what} expires on {console_time(key.valid_until)}, in {days} days; "
            "ask the participant for its next key now."
        )
    return warnings


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


class ReadOnlyModelAdmin(ModelAdmin):
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
    return format_html(
        '<span class="short-id" title="{}">{}…</span>',
        format_fingerprint(key.fingerprint),
        format_fingerprint(key.fingerprint)[:17],
    )


@admin.display(description="key ID (kid)", ordering="kid")
def key_id(key):
    """A key's ID, shortened for a list or a key row (whole in the tooltip and the copy button)."""
    return short_id(key.kid, 12)


@admin.display(description="algorithm", ordering="alg")
def key_algorithm(key) -> str:
    return f"{key.alg} · {key.key_size}"


def console_time(moment) -> str:
    """A time as the console shows it: in the console's zone, named (2026-12-02 12:04:05 IST)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else ""


def is_published_primary(key) -> bool:
    """Whether the participant's record names this key in publicKey now (wire.publication: no key while the
    participant's keys are withheld or it cannot authenticate). Reads the participant's keys (prefetch them)."""
    return publication(key.participant, list(key.participant.keys.all())).primary == key


def switch_note(key) -> str:
    """What a key's primary switch is, in words, as the record publishes it now."""
    if key.primary_from is None:
        return "published for verifiers that read publicKeys; not primary until promoted."
    when = console_time(key.primary_from)
    if key.primary_from > timezone.now():
        return f"it becomes the primary key (publicKey) at {when}."
    if is_published_primary(key):
        return f"primary key (publicKey) since {when}."
    if not key.participant.can_authenticate or key.participant.keys_withheld:
        return "its record names no key (publicKey is null) while it cannot authenticate."
    return f"no longer primary: another key was made primary after {when}."


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def confirm_revocation(model_admin, request, objects, *, title, intro, labels, action, revoke):
    """An admin action that revokes each of `objects` after a confirmation page asking for the reason."""
    return confirm_with_reason(
        model_admin,
        request,
        objects,
        title=title,
        intro=intro,
        labels=labels,
        action=action,
        apply=revoke,
        button="Yes, revoke",
        done=lambda revoked: f"Revoked {', '.join(o.kid for o in revoked)}.",
    )


def confirm_with_reason(model_admin, request, objects, *, title, intro, labels, action, apply, button, done):
    """An admin action that applies `apply(obj, actor, reason)` to each of `objects` after a confirmation page
    asking for the reason; `done(applied)` is the success message."""
    form = ReasonForm(request.POST if request.POST.get("confirmed") else None, reason_required=True)
    if form.is_bound and form.is_valid():
        actor, reason = services.Actor.from_request(request), form.cleaned_data["reason"]
        applied = apply_each(model_admin, request, objects, lambda obj: apply(obj, actor, reason))
        if applied:
            model_admin.message_user(request, done(applied), messages.SUCCESS)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "intro": intro,
        "labels": labels,
        "hidden": [
            *((admin.helpers.ACTION_CHECKBOX_NAME, obj.pk) for obj in objects),
            ("action", action),
            ("confirmed", "yes"),
        ],
        "form": form,
        "button": button,
        "danger": True,
        "back": reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"),
        "back_label": model_admin.opts.verbose_name_plural.capitalize(),
    }
    return TemplateResponse(request, "admin/participants/confirm_simple.html", context)


class NoRelatedButtons:
    """Participants are onboarded on their own page (credentials shown once), never from a picker popup."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and hasattr(field.widget, "can_add_related"):
            field.widget.can_add_related = field.widget.can_change_related = False
            field.widget.can_delete_related = False
        return field
