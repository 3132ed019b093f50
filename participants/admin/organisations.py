"""Organisations, with their participant roles and logo."""

import base64

from django.contrib import admin
from django.db import models
from django.db.models import OuterRef
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from .. import services
from ..forms import (
    OrganisationForm,
)
from ..models import Organisation, Participant
from .common import (
    RowCount,
)


class ParticipantInline(TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("id", "role", "review_status", "status", "base_url")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(ModelAdmin):
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
                "description": "Published as participantLogo in its participants' records (PNG or JPEG).",
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
            services.set_organisation_logo(
                organisation=Organisation(pk=obj.pk), actor=actor, logo=logo.read() if logo else None
            )

    @admin.display(description="logo")
    def logo_preview(self, organisation):
        if not organisation.logo:
            return "No logo."
        encoded = base64.b64encode(bytes(organisation.logo)).decode()
        return format_html(
            '<img alt="logo" style="max-height:64px" src="data:{};base64,{}">', organisation.logo_content_type, encoded
        )
