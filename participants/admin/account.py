"""The operator's own account pages: the second factor (enrol an authenticator app, verify a session with it or
with a recovery code) and the list of one's console sessions, with "sign out everywhere"."""

import base64

import segno
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp_webauthn import urls as webauthn_urls
from django_otp_webauthn.views import CompleteCredentialAuthenticationView, CompleteCredentialRegistrationView
from unfold.widgets import UnfoldAdminTextInputWidget

from .. import operators
from ..models import AuditAction
from ..services import Actor, audit

LOGIN = "admin:login"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _page(request, template: str, title: str, **context):
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context})


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if safe and target.startswith("/admin/") and "//" not in target else reverse("admin:index")


def staff_required(view):
    return login_required(view, login_url=LOGIN)


@staff_required
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Enrol an authenticator app (its secret as a QR code and as text, then a code from it to confirm) or a
    passkey (the browser's own ceremony, django-otp-webauthn's). The recovery codes made then are shown once:
    on the answer to the app's confirmation, or on this page right after the passkey's."""
    codes = operators.recovery_codes_to_show(request)
    if codes:
        return _page(
            request, "admin/account/recovery_codes.html", "Your recovery codes", codes=codes, next=_next(request)
        )
    device = operators.totp_device(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = operators.confirm_totp(request, device, form.cleaned_data["code"])
        except ValidationError as refused:
            form.add_error("code", refused)
        else:
            if not codes:  # an operator adding a second factor keeps the recovery codes it has
                messages.success(request, "Authenticator app added.")
                return HttpResponseRedirect(_next(request))
            return _page(
                request, "admin/account/recovery_codes.html", "Your recovery codes", codes=codes, next=_next(request)
            )  # shown once: nothing keeps them in clear
    secret = base64.b32encode(device.bin_key).decode()
    return _page(
        request,
        "admin/account/enrol.html",
        "Set up your second factor",
        form=form,
        qr=mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=4)),  # noqa: S308 - segno's own SVG
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        next=_next(request),
        required=operators.mode() == "required" and not operators.has_second_factor(request.user),
        button="Confirm",
        passkey_button={"id": "passkey-register-button", "type": "button"},
    )


@staff_required
@require_http_methods(["GET", "POST"])
def verify(request):
    """The second step of signing in: a code from the authenticator app, or one of the recovery codes."""
    if request.user.is_verified():
        return HttpResponseRedirect(_next(request))
    credentials = {"username": request.user.get_username()}
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if AxesProxyHandler.is_locked(request, credentials=credentials):
            return _locked(request)
        if operators.verify(request, form.cleaned_data["code"]) is not None:
            return HttpResponseRedirect(_next(request))
        if AxesProxyHandler.is_locked(request, credentials=credentials):
            return _locked(request)
        form.add_error("code", "That code is not right (or a recovery code already used).")
    return _page(
        request,
        "admin/account/verify.html",
        "Second factor",
        form=form,
        next=_next(request),
        button="Sign in",
        passkey_button={"id": "passkey-verification-button", "type": "button"},
    )


def _locked(request):
    """Too many wrong codes for this user from this address: signed out, like a locked-out password."""
    logout(request)
    messages.error(request, "Too many wrong attempts from this address: wait, or ask an administrator.")
    return HttpResponseRedirect(reverse(LOGIN))


@staff_required
@require_http_methods(["GET", "POST"])
def sessions(request):
    """One's own console sessions; "sign out everywhere" ends them all, this one included."""
    if request.method == "POST":
        ended = operators.end_sessions(request.user)
        audit(
            Actor.from_request(request),
            AuditAction.OPERATOR_SIGNED_OUT_EVERYWHERE,
            username=request.user.get_username(),
        )
        logout(request)
        messages.success(request, f"Signed out everywhere ({ended} session{'s' * (ended != 1)}).")
        return HttpResponseRedirect(reverse(LOGIN))
    return _page(
        request,
        "admin/account/sessions.html",
        "Your sessions",
        sessions=operators.sessions_of(request.user),
        current=request.session.session_key,
    )


class PasskeyRegistered(CompleteCredentialRegistrationView):
    """django-otp-webauthn's registration ceremony, completed: then audited, with recovery codes for an operator
    who has none (operators.passkey_registered)."""

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            operators.passkey_registered(self.request)
        return response


class PasskeyUsed(CompleteCredentialAuthenticationView):
    """django-otp-webauthn's authentication ceremony (a second factor here), completed: then both factors have
    passed, and the sign-in completes as after an app code (operators.sign_in_completed)."""

    def complete_auth(self, device):
        super().complete_auth(device)
        operators.sign_in_completed(self.request)


OURS = {"credential-registration-complete": PasskeyRegistered, "credential-authentication-complete": PasskeyUsed}
passkey_patterns = [
    path(str(p.pattern), OURS[p.name].as_view(), name=p.name) if p.name in OURS else p
    for p in webauthn_urls.urlpatterns
]

urlpatterns = [
    path("second-factor/", verify, name="operator-verify"),
    path("second-factor/enrol/", enrol, name="operator-enrol"),
    path("sessions/", sessions, name="operator-sessions"),
]
