"""The audit trail: read-only."""

from django.contrib import admin

from ..models import AuditEvent
from .common import (
    ReadOnlyModelAdmin,
)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ("at", "actor", "action", "participant", "organisation", "remote_addr")
    list_filter = ("action",)
    list_select_related = ("participant__organisation", "organisation")
    search_fields = ("actor", "action", "=participant__id", "organisation__name", "participant__client_id")
    search_help_text = "Actor, action, organisation, participant ID or client ID."
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ("at", "actor", "actor_user", "action", "participant", "organisation", "remote_addr", "details")
    readonly_fields = fields
