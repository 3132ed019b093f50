"""Operator accounts and groups: Django's own admins, in the console's look (django-unfold's forms)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from .. import operators
from .common import confirm_with_reason

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = (*BaseUserAdmin.list_display, "second_factor")
    actions = ["reset_second_factors"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_second_factor=operators.has_second_factor_expression())

    @admin.display(description="second factor", boolean=True, ordering="_second_factor")
    def second_factor(self, user):
        return user._second_factor

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("reset_second_factors", None)
        return actions

    @admin.action(description="Reset second factors of selected operators…", permissions=["change"])
    def reset_second_factors(self, request, queryset):
        users = list(queryset)

        def reset(user, actor, reason):
            operators.reset_devices(user=user, actor=actor, reason=reason)
            return user

        return confirm_with_reason(
            self,
            request,
            users,
            title="Reset second factors",
            intro="Their authenticator apps, passkeys and recovery codes stop working, and their sessions end: each "
            "sets up a second factor again at the next sign-in, with the password it has. Check who is asking, out "
            "of band, first; if the password may be known to someone else, set a new one too.",
            labels=[user.get_username() for user in users],
            action="reset_second_factors",
            apply=reset,
            button="Yes, reset",
            done=lambda done: f"Reset the second factors of {', '.join(u.get_username() for u in done)}.",
        )


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass
