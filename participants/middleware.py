"""The console's sign-in rules, on every request to it (participants/operators.py has the rules themselves), and
its Content-Security-Policy."""

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse

from . import operators

CONSOLE = "/admin/"
# Scripts and styles from the registry's own origin only (the console's assets are bundled: django-unfold, the
# admin's, ours); an inline <script> runs only with the response's nonce (request.csp_nonce); nothing framed,
# posted or fetched elsewhere. 'unsafe-eval' is django-unfold's: its Alpine.js evaluates the x-* attributes of the
# console's own templates with new Function() (unfold ships no CSP build); it lets no inline script run.
# Styles keep 'unsafe-inline': unfold writes style attributes and its theme's colours inline.
CONSOLE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'nonce-{nonce}' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ConsoleContentSecurityPolicy:
    """On /admin/: every response carries CONSOLE_POLICY with a fresh nonce, which templates give an inline script
    as `nonce="{{ request.csp_nonce }}"`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(CONSOLE):
            return self.get_response(request)
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONSOLE_POLICY.format(nonce=request.csp_nonce))
        return response


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
