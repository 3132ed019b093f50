from django.contrib import admin

from participants.admin.common import ReadOnlyModelAdmin, confirm_revocation

from . import signing
from .models import SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyModelAdmin):
    """Read-only: kid, status and lifetime. The private key never appears; rotate with the command, revoke
    a compromised key here or with `manage.py revoke_signing_key`."""

    list_display = ("kid", "status", "created_at", "retired_at", "verify_until", "revoked_at")
    list_filter = ("status",)
    fields = (
        "kid",
        "status",
        "public_jwk",
        "created_at",
        "retired_at",
        "verify_until",
        "revoked_at",
        "revocation_reason",
    )
    readonly_fields = fields
    actions = ["revoke"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("authapi.revoke_signingkey")

    @admin.action(description="Revoke selected signing keys (compromised)…", permissions=["revoke"])
    def revoke(self, request, queryset):
        keys = list(queryset)
        return confirm_revocation(
            self,
            request,
            keys,
            title="Revoke signing keys",
            action="revoke",
            intro="A revoked signing key leaves the JWKS at once, and every token it signed is refused from the next "
            "request on, on every server; participants simply ask for new tokens. Revoking the active key makes "
            "a new one active.",
            labels=[f"{k.kid} ({k.get_status_display()})" for k in keys],
            revoke=lambda key, actor, reason: signing.revoke_signing_key(kid=key.kid, actor=actor, reason=reason)[0],
        )
