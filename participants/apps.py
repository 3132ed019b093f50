from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participant registry"

    def ready(self):
        from axes.signals import user_locked_out

        from .services import Actor, audit

        def audit_admin_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
            # Append-only audit of every admin lockout; the password tried is never recorded.
            audit(Actor(label=f"anonymous:{username or '?'}", remote_addr=ip_address), "admin.locked_out",
                  username=username or "")  # fmt: skip

        user_locked_out.connect(audit_admin_lockout, dispatch_uid="ocen-audit-admin-lockout")
