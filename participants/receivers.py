"""Receivers of other apps' signals. Module-level functions, connected at import (from AppConfig.ready),
so the signal's weak reference always has something to point at."""

from axes.signals import user_locked_out
from django.dispatch import receiver

from .services import Actor, audit


@receiver(user_locked_out, dispatch_uid="ocen-audit-admin-lockout")
def audit_admin_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    """Append-only audit of every admin lockout (django-axes); the password tried is never recorded."""
    audit(
        Actor(label=f"anonymous:{username or '?'}", remote_addr=ip_address), "admin.locked_out", username=username or ""
    )
