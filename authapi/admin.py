from django.contrib import admin

from .models import SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Read-only: kid, status and lifetime. The private key never appears; rotate with the command."""

    list_display = ("kid", "status", "created_at", "retired_at", "verify_until")
    list_filter = ("status",)
    fields = ("kid", "status", "public_jwk", "created_at", "retired_at", "verify_until")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
