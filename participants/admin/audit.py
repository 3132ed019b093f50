"""The audit trail: read-only."""

from django.contrib import admin
from django.utils import timezone

from ..models import AuditEvent
from .common import (
    ReadOnlyModelAdmin,
    console_time,
)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ("when", "actor", "action", "participant", "organisation", "remote_addr")
    list_filter = ("action",)
    list_select_related = ("participant__organisation", "organisation")
    search_fields = ("actor", "action", "=participant__id", "organisation__name", "participant__client_id")
    search_help_text = "Actor, action, organisation, participant ID or client ID."
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ("when", "actor", "actor_user", "action", "participant", "organisation", "remote_addr", "details")
    readonly_fields = fields

    @admin.display(description="when", ordering="at")
    def when(self, event):
        """In the console's zone, named: the date headings above the list are in that zone too."""
        return console_time(event.at)

    def changelist_view(self, request, extra_context=None):
        zone = timezone.get_current_timezone_name()
        return super().changelist_view(request, {"subtitle": f"Times in {zone}", **(extra_context or {})})
