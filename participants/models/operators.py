"""Operators: the console's staff users, and the sessions they hold."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class OperatorSession(models.Model):
    """A console session, by user: what the sessions page lists and "sign out everywhere" ends. The session
    itself is Django's (django_session); this row says whose it is, from where, and when it was last used."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="operator_session_user")]

    def __str__(self):
        return f"{self.user} from {self.address or '?'}"
