"""The audit trail: read-only."""

from django.contrib import admin
from django.utils import timezone
from unfold.contrib.filters.admin import FieldTextFilter, RangeDateFilter
from unfold.utils import parse_date_str

from ..models import AuditEvent
from .common import (
    ReadOnlyModelAdmin,
    console_time,
    truncated,
)
from .exports import AuditEventResource, ConsoleExport


class DayRangeFilter(RangeDateFilter):
    """From one day to another, both whole days in the console's zone (unfold's own compares the time with
    the last day's midnight, which leaves that day out). A date it cannot read filters nothing."""

    def queryset(self, request, queryset):
        bounds = {}
        for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
            day = parse_date_str(self.used_parameters.get(self.parameter_name + suffix) or "")
            if day is not None:
                bounds[f"{self.parameter_name}__date__{lookup}"] = day
        return queryset.filter(**bounds)


@admin.register(AuditEvent)
class AuditEventAdmin(ConsoleExport, ReadOnlyModelAdmin):
    resource_classes = (AuditEventResource,)
    list_display = ("when", "actor", "action", "participant_name", "organisation_name", "remote_addr")
    # By organisation, client ID, actor, action and date: each filter narrows the list and its export.
    list_filter = (
        ("organisation__name", FieldTextFilter),
        ("participant__client_id", FieldTextFilter),
        ("actor", FieldTextFilter),
        "action",
        ("at", DayRangeFilter),
    )
    list_filter_submit = True
    list_select_related = ("participant__organisation", "organisation")
    search_fields = ("actor", "action", "=participant__id", "organisation__name", "participant__client_id")
    search_help_text = "Actor, action, organisation, participant ID or client ID."
    date_hierarchy = "at"
    show_full_result_count = False
    fields = ("when", "actor", "actor_user", "action", "participant", "organisation", "remote_addr", "details")
    readonly_fields = fields

    @admin.display(description="participant", ordering="participant__organisation__name")
    def participant_name(self, event):
        return truncated(str(event.participant), wide=True) if event.participant_id else "—"

    @admin.display(description="organisation", ordering="organisation__name")
    def organisation_name(self, event):
        return truncated(event.organisation.name, wide=True) if event.organisation_id else "—"

    @admin.display(description="when", ordering="at")
    def when(self, event):
        """In the console's zone, named: the date headings above the list are in that zone too."""
        return console_time(event.at)

    def changelist_view(self, request, extra_context=None):
        zone = timezone.get_current_timezone_name()
        return super().changelist_view(request, {"subtitle": f"Times in {zone}", **(extra_context or {})})
