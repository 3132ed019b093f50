"""CSV and JSON exports of what a list shows, filtered as it is (django-import-export, export side only:
records come in through `import_registry` and the services, never through the console).

Each resource names its columns: nothing else of the row leaves the registry (no secret hash, no JWK
beyond its fingerprint). Cells that a spreadsheet would run as a formula are escaped
(IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT).
"""

import json

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export import fields, resources
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, JSON
from unfold.contrib.import_export.forms import ExportForm

from ..models import AuditEvent, Participant
from .common import console_time


class ConsoleExport(ExportMixin):
    """Export of the filtered list, to any operator who may see it; CSV or JSON, every named column."""

    export_form_class = ExportForm
    export_formats = (CSV, JSON)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def export_action(self, request):
        """A filter the list would refuse (a date that is none, a field that does not exist) is answered as the list
        answers it: back to the list, `?e=1`, and nothing exported (never the whole list instead)."""
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            messages.error(request, "That filter is not one this list has: nothing was exported.")
            changelist = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?{ERROR_FLAG}=1")


class ParticipantResource(resources.ModelResource):
    participant_id = fields.Field(attribute="id", column_name="participantId")
    organisation = fields.Field(attribute="organisation__name", column_name="organisation")
    role = fields.Field(attribute="role", column_name="role")
    state = fields.Field(attribute="get_state_display", column_name="state")
    client_id = fields.Field(attribute="client_id", column_name="clientId")
    base_url = fields.Field(attribute="base_url", column_name="apiBaseUrl")
    created_at = fields.Field(column_name="createdAt")
    approved_at = fields.Field(column_name="approvedAt")

    class Meta:
        model = Participant
        fields = (
            "participant_id",
            "organisation",
            "role",
            "state",
            "client_id",
            "base_url",
            "created_at",
            "approved_at",
        )
        export_order = fields

    def dehydrate_created_at(self, participant):
        return console_time(participant.created_at)

    def dehydrate_approved_at(self, participant):
        return console_time(participant.approved_at)


class AuditEventResource(resources.ModelResource):
    at = fields.Field(column_name="at")
    actor = fields.Field(attribute="actor", column_name="actor")
    action = fields.Field(attribute="action", column_name="action")
    organisation = fields.Field(attribute="organisation__name", column_name="organisation")
    participant_id = fields.Field(attribute="participant_id", column_name="participantId")
    client_id = fields.Field(attribute="participant__client_id", column_name="clientId")
    remote_addr = fields.Field(attribute="remote_addr", column_name="remoteAddr")
    details = fields.Field(attribute="details", column_name="details")

    class Meta:
        model = AuditEvent
        fields = ("at", "actor", "action", "organisation", "participant_id", "client_id", "remote_addr", "details")
        export_order = fields

    def dehydrate_at(self, event):
        return console_time(event.at)

    def dehydrate_details(self, event):
        return json.dumps(event.details, sort_keys=True, ensure_ascii=False)
