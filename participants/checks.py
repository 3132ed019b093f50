"""System checks of the registry's own settings (`manage.py check --deploy` runs the deploy ones)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def second_factor_in_production(app_configs=None, **kwargs):
    """Operators of a production registry sign in with a second factor, unless someone said in writing
    (OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED=1) that this one does not."""
    if settings.DEBUG or settings.OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED:
        return []
    if settings.OCEN_ADMIN_2FA == "optional":
        return [
            Warning(
                "OCEN_ADMIN_2FA=optional: operators who never set up a second factor sign in with a password alone.",
                hint="Use OCEN_ADMIN_2FA=required (the production default).",
                id="ocen.W002",
            )
        ]
    if settings.OCEN_ADMIN_2FA != "off":
        return []
    return [
        Error(
            "OCEN_ADMIN_2FA=off: the console opens with a password alone, and whoever has one can mint credentials.",
            hint="Use OCEN_ADMIN_2FA=required (the production default), or set OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED=1 if "
            "another layer (an SSO proxy with its own second factor) guards the console.",
            id="ocen.E001",
        )
    ]
