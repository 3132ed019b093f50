"""Receivers of other apps' signals. Module-level functions, connected at import (from AppConfig.ready),
so the signal's weak reference always has something to point at."""

import hashlib

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.dispatch import receiver

from .models import AuditAction
from .remote import client_address
from .services import Actor, audit


@receiver(user_locked_out, dispatch_uid="ocen-audit-admin-lockout")
def audit_admin_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    """Audit every admin lockout (django-axes), once: axes signals again for each attempt refused while
    the lockout holds, and an event for each would let anyone fill the append-only log. The password
    tried is never recorded. `ip_address` is what the lockout counts by (operators.lockout_source: an
    IPv6 /64 as its first address); the event records the address that tripped it, and that network."""
    marker = hashlib.sha256(f"{username}\x1f{ip_address}".encode()).hexdigest()[:32]
    if cache.add(f"ocen:lockout-audited:{marker}", 1, settings.OCEN_ADMIN_LOCKOUT_SECONDS):
        address = client_address(request) if request is not None else ip_address
        network = {"network": f"{ip_address}/64"} if ip_address and ":" in ip_address else {}
        audit(
            Actor(label=f"anonymous:{username or '?'}", remote_addr=address),
            AuditAction.ADMIN_LOCKED_OUT,
            username=username or "",
            **network,
        )


@receiver(user_logged_in, dispatch_uid="ocen-signed-in-with-the-password")
def password_was_enough(sender, request=None, user=None, **kwargs):
    """A sign-in that owes no second factor (none set up, and none required; or OCEN_ADMIN_2FA=off) is complete
    with the password: its failures are forgiven then. Otherwise they are at the second factor."""
    from . import operators

    if request is not None and user is not None and operators.owed(user) is None:
        operators.signed_in(request, user)
