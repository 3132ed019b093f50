"""
Operator accounts (issue 15): the console's staff users sign in with a password and a second factor, their
sessions end when idle and can be ended everywhere, and every enrolment, reset and recovery-code use is an
audit event.

Second factors are django-otp devices: a TOTP app (OperatorTOTPDevice, its secret sealed with the registry's
encryption keys), a passkey (django-otp-webauthn's WebAuthnCredential) and one-time recovery codes (StaticDevice,
kept as keyed digests), shown once, at the first enrolment. OCEN_ADMIN_2FA says whether they are required (a staff
user without one is taken to enrolment after the password and can do nothing else), optional or off. A sign-in
completes with a new session key; its failures (passwords and codes) count per user name and address, an IPv6
address by its /64.
"""

import contextvars
import functools
import operator

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import user_login_failed
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp_webauthn.models import WebAuthnCredential

from . import one_time
from .models import AuditAction, OperatorSession
from .models.operators import OperatorTOTPDevice, new_sealed_key, recovery_code_digests, sealing
from .remote import client_address, source_network
from .services import Actor, audit

RECOVERY_CODES = 10
DEVICE_KINDS = (OperatorTOTPDevice, StaticDevice, WebAuthnCredential)
RECOVERY_CODES_SHOWN_ONCE = "ocen_recovery_codes"
TOTP_BEING_ENROLLED = "ocen_totp_being_enrolled"
PASSKEYS = "/admin/account/passkeys/"  # the passkey ceremonies' JSON endpoints (enrolment and the second step)
# The session of the request being served, which ending "the user's other sessions" spares.
current_session = contextvars.ContextVar("current_session", default=None)


def mode() -> str:
    return settings.OCEN_ADMIN_2FA


def pending_step(request) -> str | None:
    """What a signed-in staff user must do before the console: "verify" (it has a second factor and has not
    used it in this session) or "enrol" (it has none, and one is required); None when nothing is owed."""
    user = request.user
    if not (user.is_authenticated and user.is_staff) or user.is_verified():
        return None
    return owed(user)


def owed(user) -> str | None:
    """What a sign-in of `user` owes after the password: "verify", "enrol", or None (the password was enough)."""
    if mode() == "off":
        return None
    if has_second_factor(user):
        return "verify"
    return "enrol" if mode() == "required" else None


def has_second_factor_expression():
    """has_second_factor for each row of a User queryset (the users list), as one expression."""
    mine = [Exists(kind.objects.filter(user=OuterRef("pk"), confirmed=True)) for kind in DEVICE_KINDS]
    return ExpressionWrapper(functools.reduce(operator.or_, mine), output_field=BooleanField())


def has_second_factor(user) -> bool:
    """Whether the user has a confirmed device of any kind: one statement over the device tables (django-otp's
    user_has_device asks each kind in turn), made on each console request of a session not yet verified."""
    mine = [kind.objects.filter(user=user, confirmed=True).values("pk") for kind in DEVICE_KINDS]
    return bool(mine[0].union(*mine[1:], all=True)[:1])


# --- enrolment ---------------------------------------------------------------------------------------------


def totp_device(request) -> OperatorTOTPDevice:
    """The authenticator app being enrolled in this session, not yet saved: its secret, sealed, waits in the session
    (the same on every showing until confirmed), so opening the page writes no device."""
    sealed_key = request.session.setdefault(TOTP_BEING_ENROLLED, new_sealed_key())
    return OperatorTOTPDevice(user=request.user, name="Authenticator app", confirmed=False, sealed_key=sealed_key)


@transaction.atomic
def confirm_totp(request, device: OperatorTOTPDevice, code: str) -> list[str]:
    """Confirm an enrolment with a code from the app: the device is saved and counts from now on, and this session
    is verified with it. Returns the recovery codes to show once: new ones for an operator without any, else none."""
    if device.user_id != request.user.pk or device.pk is not None:
        raise PermissionDenied("That enrolment is not yours to confirm.")
    if not device.verify_token((code or "").strip()):  # its throttle's write is rolled back with the refusal
        raise ValidationError("That code does not match: check the app's clock, and type the current code.")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    request.session.pop(TOTP_BEING_ENROLLED, None)
    codes = [] if has_recovery_codes(request.user) else new_recovery_codes(request.user)
    otp_login(request, device)
    sign_in_completed(request)
    audit(Actor.from_request(request), AuditAction.OPERATOR_TOTP_ENROLLED, username=request.user.get_username())
    return codes


def has_recovery_codes(user) -> bool:
    """Codes the user has left; an operator adding a second factor keeps them (a new set is made only for one
    without, so a session verified once cannot quietly replace another's)."""
    return StaticToken.objects.filter(device__user=user).exists()


def new_recovery_codes(user) -> list[str]:
    """A new set of recovery codes, returned to be shown once; the database keeps their digests only."""
    static, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=recovery_code_digests(code)[0]) for code in codes)
    return codes


def passkey_registered(request) -> None:
    """A passkey was registered (django-otp-webauthn's ceremony): audited, and an operator without recovery codes
    gets them, kept encrypted in its session until the enrolment page shows them, once."""
    audit(Actor.from_request(request), AuditAction.OPERATOR_PASSKEY_ENROLLED, username=request.user.get_username())
    sign_in_completed(request)
    if has_recovery_codes(request.user):
        messages.success(request, "Passkey added.")
    else:
        one_time.stash(request, new_recovery_codes(request.user), key=RECOVERY_CODES_SHOWN_ONCE)


def recovery_codes_to_show(request) -> list[str]:
    return one_time.take(request, key=RECOVERY_CODES_SHOWN_ONCE)


# --- sign-in ----------------------------------------------------------------------------------------------


def verify(request, code: str):
    """Verify this session with a code from any of the user's devices (a recovery code works once); the device,
    or None. A failure counts towards the lockout of this user name from this address, like a wrong password."""
    code = (code or "").strip().replace(" ", "").replace("-", "").lower()  # recovery codes are lower case
    device = _matching_device(request.user, code) if code else None
    if device is None:
        user_login_failed.send(sender=__name__, credentials={"username": request.user.get_username()}, request=request)
        return None
    otp_login(request, device)
    sign_in_completed(request)
    if isinstance(device, StaticDevice):
        left = device.token_set.count()
        audit(
            Actor.from_request(request),
            AuditAction.OPERATOR_RECOVERY_CODE_USED,
            username=request.user.get_username(),
            left=left,
        )
    return device


def sign_in_completed(request) -> None:
    """The second factor passed (a code, a passkey, an enrolment confirmed): the session goes on under a new key and
    a new CSRF token, as Django's login does after the password, so a cookie captured between the two steps is worth
    nothing; then signed_in."""
    request.session.cycle_key()
    rotate_token(request)
    signed_in(request)


def signed_in(request, user=None) -> None:
    """Both factors passed: this user name's failures from this address are forgiven (django-axes); those from
    other addresses stay. A request with no address (a test's forced login) forgives nothing."""
    source = lockout_source(request)
    if source:
        axes_reset(ip=source, username=(user or request.user).get_username())


def lockout_source(request) -> str | None:
    """The address a console sign-in's failures count under (AXES_CLIENT_IP_CALLABLE): the caller's, as the trusted
    proxies report it; an IPv6 address by its /64, written as the prefix's first address (one host's network, whose
    owner can use any of its addresses), an IPv4-mapped one as the IPv4 address. The token throttle counts by the
    same rule (authapi/abuse.py)."""
    address = client_address(request)
    network = source_network(address)
    return address if network is None else str(network.network_address)


def _devices_for(user, code: str, **options):
    """The user's devices a code of this shape is for: six digits, an authenticator app's; anything else, a
    recovery code. A code is tried on those only, so a recovery code does not count as a wrong app code."""
    kind = OperatorTOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    return [device for device in devices_for_user(user, **options) if isinstance(device, kind)]


def _matching_device(user, code: str):
    """The device the code is from (a recovery code is looked up by its digest under each encryption key)."""
    with transaction.atomic():
        for device in _devices_for(user, code, for_verify=True):
            tokens = recovery_code_digests(code) if isinstance(device, StaticDevice) else [code]
            if any(device.verify_token(token) for token in tokens):
                return device
    return None


# --- administration ----------------------------------------------------------------------------------------


@transaction.atomic
def reset_devices(*, user, actor: Actor, reason: str) -> int:
    """Remove every second factor of `user` (it enrols again at its next sign-in) and end its sessions.
    Superusers only; never one's own while OCEN_FOUR_EYES is on (a second superuser does it). Returns how many
    devices went."""
    if not getattr(actor.user, "is_superuser", False):
        raise PermissionDenied("Only a superuser can reset another operator's second factors.")
    if user.pk == actor.user.pk and settings.OCEN_FOUR_EYES:
        raise ValidationError("With four-eyes on, another superuser must reset your second factors.")
    if not (reason or "").strip():
        raise ValidationError("Say why: the reset is audited.")
    removed = sum(kind.objects.filter(user=user).count() for kind in DEVICE_KINDS)  # devices, not their codes
    for kind in DEVICE_KINDS:
        kind.objects.filter(user=user).delete()
    ended = end_sessions(user)
    audit(
        actor,
        AuditAction.OPERATOR_DEVICES_RESET,
        username=user.get_username(),
        reason=reason,
        devices=removed,
        sessionsEnded=ended,
    )
    return removed


def reseal_second_factors() -> int:
    """Seal every authenticator app's secret again under the first of OCEN_SIGNING_KEY_ENCRYPTION_KEYS, so a key
    listed after it can be retired without locking those apps out (recovery codes cannot be: their digests under a
    retired key stop working). Returns how many were sealed again."""
    fernet = sealing()
    devices = list(OperatorTOTPDevice.objects.only("pk", "sealed_key"))
    for device in devices:
        device.sealed_key = fernet.rotate(device.sealed_key.encode()).decode()
    OperatorTOTPDevice.objects.bulk_update(devices, ["sealed_key"])
    return len(devices)


# --- sessions ----------------------------------------------------------------------------------------------


def used(request) -> bool:
    """Note that this signed-in session is being used; False if it went unused for DJANGO_SESSION_IDLE_SECONDS
    (then it must end). The note is written once a tenth of that time has passed, not on every request, with
    the session's row for the sessions page (who, from where, when last)."""
    now = timezone.now()
    last = request.session.get("operator_active")
    if last is not None and now.timestamp() - last > settings.DJANGO_SESSION_IDLE_SECONDS:
        return False
    if last is None or now.timestamp() - last > settings.DJANGO_SESSION_IDLE_SECONDS / 10:
        request.session["operator_active"] = now.timestamp()
        if request.session.session_key is None:
            request.session.save()
        _record_session(request, now)
    return True


def key_changed(request, before: str | None) -> None:
    """The request gave its session a new key (a sign-in, a password change): the sessions page follows it, so
    "sign out everywhere" ends it too."""
    after = request.session.session_key
    if after and after != before and request.user.is_authenticated:
        OperatorSession.objects.filter(session_key=before).delete()
        _record_session(request, timezone.now())


def _record_session(request, now) -> None:
    OperatorSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": request.user,
            "last_seen_at": now,
            "address": client_address(request),
            "user_agent": request.headers.get("User-Agent", "")[:200],
        },
    )


def signed_out_idle(request) -> None:
    audit(Actor.from_request(request), AuditAction.OPERATOR_SIGNED_OUT_IDLE, username=request.user.get_username())


def sessions_of(user):
    """The user's live console sessions, most recently used first (ended or expired ones are forgotten)."""
    rows = OperatorSession.objects.filter(user=user)
    live = set(
        Session.objects.filter(session_key__in=rows.values("session_key"), expire_date__gt=timezone.now()).values_list(
            "session_key", flat=True
        )
    )
    rows.exclude(session_key__in=live).delete()
    return list(OperatorSession.objects.filter(user=user).order_by("-last_seen_at"))


def end_sessions(user, *, sparing: str | None = None) -> int:
    """End the user's console sessions (all, or all but `sparing`); returns how many ended."""
    keys = list(
        OperatorSession.objects.filter(user=user).exclude(session_key=sparing).values_list("session_key", flat=True)
    )
    Session.objects.filter(session_key__in=keys).delete()
    OperatorSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


class EndOtherSessionsOnPasswordChange:
    """A password validator in name only (AUTH_PASSWORD_VALIDATORS): Django calls every validator's
    password_changed() when a user's new password is saved, and this one ends the user's other console
    sessions then (the session that changed it, if it is the user's own, stays)."""

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is None or user.pk is None:
            return
        ended = end_sessions(user, sparing=current_session.get())
        if ended:
            audit(
                Actor.system(),
                AuditAction.OPERATOR_SESSIONS_ENDED,
                username=user.get_username(),
                why="password changed",
            )

    def get_help_text(self):
        return ""
