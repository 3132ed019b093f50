"""The console's sign-in rules, on every request to it (participants/operators.py has the rules themselves)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse

from . import operators

CONSOLE = "/admin/"


class OperatorSessions:
    """On /admin/: a session idle for DJANGO_SESSION_IDLE_SECONDS is signed out; a staff user who owes its
    second factor (operators.pending_step) reaches nothing but that step's page and the sign-out; every
    signed-in session is tracked for the sessions page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        before = request.session.session_key
        token = operators.current_session.set(before)
        try:
            if not request.path.startswith(CONSOLE):
                return self.get_response(request)
            response = self.refusal(request) or self.get_response(request)
            operators.key_changed(request, before)
            return response
        finally:
            operators.current_session.reset(token)

    def refusal(self, request):
        if not request.user.is_authenticated:
            return None
        if not operators.used(request):
            operators.signed_out_idle(request)
            logout(request)
            messages.info(request, "You were signed out after a time without activity. Sign in again.")
            return HttpResponseRedirect(f"{reverse('admin:login')}?{urlencode({'next': request.get_full_path()})}")
        step = operators.pending_step(request)
        if (
            step
            and request.path not in self.open_while_pending(step)
            and not request.path.startswith(operators.PASSKEYS)
        ):
            return HttpResponseRedirect(f"{reverse(f'operator-{step}')}?{urlencode({'next': request.get_full_path()})}")
        return None

    @staticmethod
    def open_while_pending(step: str) -> set[str]:
        return {reverse(f"operator-{step}"), reverse("admin:logout"), reverse("admin:login")}
