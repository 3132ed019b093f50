from django.contrib import admin

from participants.admin import ReadOnlyModelAdmin

from .models import SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyModelAdmin):
    """Read-only: kid, status and lifetime. The private key never appears; rotate with the command."""

    list_display = ("kid", "status", "created_at", "retired_at", "verify_until")
    list_filter = ("status",)
    fields = ("kid", "status", "public_jwk", "created_at", "retired_at", "verify_until")
    readonly_fields = fields
