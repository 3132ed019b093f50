"""Operators sign in to the console with a password and a second factor (issue 15), in a real browser: enrolment of
an authenticator app (codes computed with pyotp from the secret the page shows), sign-in with it or with a
recovery code (once), refusal without it, a reset by a superuser, the idle timeout, "sign out everywhere",
and a lockout from one address that does not block another. Each checks the audit trail."""

import base64
import subprocess
import sys

import pyotp
import pytest
from axes.models import AccessAttempt
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from participants import operators
from participants.models import AuditEvent
from participants.models.operators import OperatorTOTPDevice
from tests.browser import chromium_page, chromium_pages
from tests.conftest import STAFF_PASSWORD, make_staff
from tests.servers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    settings.OCEN_ADMIN_2FA = "required"


def password_step(page, base_url, username="asha", password=STAFF_PASSWORD):
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form [type=submit]")


def code_step(page, code):
    page.fill("#id_code", code)
    page.click("button[name=step]")


def enrolled(user) -> tuple[str, list[str]]:
    """A confirmed authenticator app and recovery codes for `user`: (the app's base32 secret, the codes)."""
    device = OperatorTOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return base64.b32encode(device.bin_key).decode(), operators.new_recovery_codes(user)


def actions(username=None) -> list[str]:
    events = AuditEvent.objects.filter(action__startswith="operator.").order_by("at", "pk")
    return [e.action for e in events if username is None or e.details.get("username") == username]


def test_an_operator_without_a_second_factor_enrols_before_anything_else(live_server, registry_admin):
    with chromium_page() as page:
        password_step(page, live_server.url)
        page.wait_for_selector("#totp-secret")
        page.goto(f"{live_server.url}/admin/participants/participant/")
        page.wait_for_selector("#totp-secret")  # nothing else opens: back to enrolment
        assert "/admin/account/second-factor/enrol/" in page.url

        secret = page.inner_text("#totp-secret").replace(" ", "")
        page.fill("#id_code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        page.click("button[name=step]")
        page.wait_for_selector("text=That code does not match")
        page.fill("#id_code", pyotp.TOTP(secret).now())
        page.click("button[name=step]")
        codes = page.locator("#recovery-codes code").all_inner_texts()
        assert len(codes) == 10 and len(set(codes)) == 10
        page.click("text=I have kept them: continue")
        page.wait_for_selector("#nav-sidebar")
        page.reload()
        assert page.locator("#recovery-codes").count() == 0  # shown once

    assert OperatorTOTPDevice.objects.get(user=registry_admin).confirmed
    assert actions("asha") == ["operator.totp_enrolled"]


def test_signing_in_needs_the_code_and_refuses_the_console_without_it(live_server, registry_admin):
    secret, _codes = enrolled(registry_admin)
    with chromium_page() as page:
        password_step(page, live_server.url)
        page.wait_for_selector("#id_code")
        page.goto(f"{live_server.url}/admin/participants/participant/")
        page.wait_for_selector("#id_code")  # the console stays shut
        assert "/admin/account/second-factor/" in page.url
        code_step(page, "123456" if pyotp.TOTP(secret).now() != "123456" else "654321")
        page.wait_for_selector("text=That code is not right")
        assert AccessAttempt.objects.get(username="asha").failures_since_start == 1  # counted as a wrong password
        code_step(page, pyotp.TOTP(secret).now())
        page.wait_for_url("**/admin/participants/participant/")  # where it was going
        page.wait_for_selector("#nav-sidebar")
    assert not AccessAttempt.objects.filter(username="asha").exists()  # both factors passed: forgiven
    assert actions("asha") == []  # a sign-in, right or wrong, is no audit event (a lockout is)


def test_a_recovery_code_signs_in_once(live_server, registry_admin):
    _secret, codes = enrolled(registry_admin)
    with chromium_page() as page:
        password_step(page, live_server.url)
        code_step(page, codes[3].upper())  # as it might be typed
        page.wait_for_selector("#nav-sidebar")
        page.context.clear_cookies()  # another sign-in
        password_step(page, live_server.url)
        code_step(page, codes[3])
        page.wait_for_selector("text=That code is not right")
    assert StaticDevice.objects.get(user=registry_admin).token_set.count() == 9
    recovered = AuditEvent.objects.get(action="operator.recovery_code_used")
    assert recovered.details == {"username": "asha", "left": 9} and codes[3] not in str(recovered.details)


def test_a_superuser_resets_another_operators_second_factor(live_server, registry_admin, settings):
    settings.OCEN_FOUR_EYES = True
    root = make_staff("ravi", None, is_superuser=True)
    root_secret, _ = enrolled(root)
    operator_secret, _ = enrolled(registry_admin)
    with chromium_pages([None, None]) as (operator, superuser):
        password_step(operator, live_server.url)
        code_step(operator, pyotp.TOTP(operator_secret).now())
        operator.wait_for_selector("#nav-sidebar")

        password_step(superuser, live_server.url, "ravi")
        code_step(superuser, pyotp.TOTP(root_secret).now())
        superuser.wait_for_selector("#nav-sidebar")
        superuser.goto(f"{live_server.url}/admin/auth/user/")
        for user in (registry_admin, root):
            superuser.check(f"input[name=_selected_action][value='{user.pk}']")
        superuser.select_option("select[name=action]", "reset_second_factors")
        superuser.click("button[name=index]")
        superuser.fill("#id_reason", "lost phone, confirmed by call")
        superuser.click("input[type=submit][value='Yes, reset']")
        superuser.wait_for_selector("text=Reset the second factors of asha")
        assert superuser.locator("text=another superuser must reset your second factors").count() == 1

        operator.goto(f"{live_server.url}/admin/participants/participant/")
        operator.wait_for_selector("#id_password")  # its session ended with the reset
    assert not OperatorTOTPDevice.objects.filter(user=registry_admin).exists()
    assert OperatorTOTPDevice.objects.filter(user=root).exists()  # four-eyes: not one's own
    reset = AuditEvent.objects.get(action="operator.devices_reset")
    assert (reset.actor, reset.details["username"], reset.details["sessionsEnded"]) == ("ravi", "asha", 1)
    assert reset.details["devices"] == 2  # the app and the set of recovery codes


def test_an_idle_session_is_signed_out(live_server, registry_admin, settings, time_machine):
    """With the idle timeout as configured: the live server runs in this process, so its clock is moved past it."""
    secret, _ = enrolled(registry_admin)
    time_machine.move_to(timezone.now())
    with chromium_page() as page:
        password_step(page, live_server.url)
        code_step(page, pyotp.TOTP(secret).now())
        page.wait_for_selector("#nav-sidebar")
        time_machine.shift(settings.DJANGO_SESSION_IDLE_SECONDS + 1)
        page.goto(f"{live_server.url}/admin/participants/participant/")
        page.wait_for_selector("text=You were signed out after a time without activity")
        assert "/admin/login/" in page.url
    assert "operator.signed_out_idle" in actions("asha")


def test_sign_out_everywhere_ends_every_session(live_server, registry_admin):
    secret, _ = enrolled(registry_admin)
    with chromium_pages([None, None]) as (laptop, desktop):
        for page in (laptop, desktop):
            password_step(page, live_server.url)
            code_step(page, pyotp.TOTP(secret).now())
            page.wait_for_selector("#nav-sidebar")
            # The second browser signs in within the same 30 s step, whose code django-otp takes once: as if the
            # next step had come.
            OperatorTOTPDevice.objects.filter(user=registry_admin).update(last_t=-1)
        assert laptop.locator("a[href='/admin/account/sessions/']").count() == 1  # in the account menu
        laptop.goto(f"{live_server.url}/admin/account/sessions/")
        assert laptop.locator("#operator-sessions tbody tr").count() == 2
        laptop.click("input[type=submit][value='Sign out everywhere']")
        laptop.wait_for_selector("text=Signed out everywhere (2 sessions)")
        desktop.goto(f"{live_server.url}/admin/")
        desktop.wait_for_selector("#id_password")
    assert "operator.signed_out_everywhere" in actions("asha")


def test_a_lockout_from_one_address_does_not_block_the_operator_elsewhere(live_server, registry_admin, settings):
    settings.OCEN_TRUSTED_PROXY_COUNT = 1  # the proxy reports the address
    secret, _ = enrolled(registry_admin)
    attacker, office = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.9"}
    with chromium_pages([attacker, office]) as (guessing, operator):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            password_step(guessing, live_server.url, password="not-the-password")
        password_step(guessing, live_server.url)  # even the right password, from there, now
        assert guessing.locator("#nav-sidebar").count() == 0 and guessing.locator("#id_code").count() == 0

        password_step(operator, live_server.url)
        code_step(operator, pyotp.TOTP(secret).now())
        operator.wait_for_selector("#nav-sidebar")
    locked = AuditEvent.objects.get(action="admin.locked_out")
    assert (locked.details["username"], locked.remote_addr) == ("asha", "198.51.100.7")


def test_a_new_password_ends_the_operators_other_sessions(client, registry_admin):
    secret, _ = enrolled(registry_admin)
    client.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
    client.post("/admin/account/second-factor/", {"code": pyotp.TOTP(secret).now()})
    assert client.get("/admin/").status_code == 200
    user = get_user_model().objects.get(username="asha")
    user.set_password("a-new-long-passphrase-2026")
    user.save()
    assert client.get("/admin/").status_code == 302  # that session ended
    assert "operator.sessions_ended" in actions("asha")


def deploy_check(**env) -> subprocess.CompletedProcess:
    """`manage.py check --deploy` in production mode (DJANGO_DEBUG=0) with these settings."""
    production = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "deploy-check-" + "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "registry.example.in",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "OCEN_SIGNING_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**production, **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(("acknowledged", "fails"), [("0", True), ("1", False)])
def test_check_deploy_refuses_a_production_console_without_second_factors(acknowledged, fails):
    done = deploy_check(OCEN_ADMIN_2FA="off", OCEN_ADMIN_2FA_OFF_ACKNOWLEDGED=acknowledged)
    assert ("ocen.E001" in done.stderr) is fails and (done.returncode != 0) is fails


def virtual_authenticator(page):
    """A platform authenticator in the browser (Chrome DevTools Protocol), which answers every ceremony as if
    the operator touched it."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    return cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]


def test_an_operator_enrols_a_passkey_and_signs_in_with_it(live_server, registry_admin, settings):
    from django_otp_webauthn.models import WebAuthnCredential

    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    with chromium_page() as page:
        virtual_authenticator(page)
        password_step(page, live_server.url)
        # The ceremony gives the session a new key: the page's own requests with the old one are done first (one
        # still under way would come back without a session and clear the cookie).
        page.wait_for_load_state("networkidle")
        page.click("#passkey-register-button")
        page.wait_for_selector("#recovery-codes")  # the page, shown again, with them once
        codes = page.locator("#recovery-codes code").all_inner_texts()
        assert len(codes) == 10
        page.click("text=I have kept them: continue")
        page.wait_for_url("**/admin/")
        page.wait_for_selector("#nav-sidebar")

        page.context.clear_cookies()  # another sign-in, on the same device
        password_step(page, live_server.url)
        page.wait_for_selector("#passkey-verification-button")
        page.goto(f"{live_server.url}/admin/participants/participant/")
        page.wait_for_selector("#passkey-verification-button")  # nothing opens before it
        code_step(page, "123456")  # a wrong code first: counted
        page.wait_for_selector("text=That code is not right")
        assert AccessAttempt.objects.get(username="asha").failures_since_start == 1
        page.wait_for_load_state("networkidle")  # as above
        page.click("#passkey-verification-button")
        page.wait_for_url("**/admin/participants/participant/")
        page.wait_for_selector("#nav-sidebar")
    assert WebAuthnCredential.objects.filter(user=registry_admin, confirmed=True).count() == 1
    assert not AccessAttempt.objects.filter(username="asha").exists()  # the passkey completed the sign-in
    assert actions("asha") == ["operator.passkey_enrolled"]


def sign_in(client, secret, address, password=STAFF_PASSWORD, code=None):
    """Both steps over HTTP from `address` (as the proxy reports it); the second step's answer."""
    forwarded = {"HTTP_X_FORWARDED_FOR": address}
    client.post("/admin/login/", {"username": "asha", "password": password}, **forwarded)
    return client.post("/admin/account/second-factor/", {"code": code or pyotp.TOTP(secret).now()}, **forwarded)


def test_guessing_codes_between_right_passwords_locks_that_address_and_not_the_operator(
    client, registry_admin, settings
):
    settings.OCEN_TRUSTED_PROXY_COUNT = 1
    secret, _ = enrolled(registry_admin)
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    for _ in range(settings.AXES_FAILURE_LIMIT):  # the right password each time, then a guess
        client.logout()
        sign_in(client, secret, "198.51.100.7", code=wrong)
    client.logout()
    assert sign_in(client, secret, "198.51.100.7").status_code in (302, 429)
    assert client.get("/admin/", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 302  # not in

    operator = Client()
    assert sign_in(operator, secret, "203.0.113.9").status_code == 302
    assert operator.get("/admin/", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200
    locked = AuditEvent.objects.get(action="admin.locked_out")
    assert (locked.details["username"], locked.remote_addr) == ("asha", "198.51.100.7")


def test_the_operators_devices_have_no_console_pages_of_their_own(admin_client, settings):
    settings.OCEN_ADMIN_2FA = "optional"  # a superuser with no device, in the console
    pages = ("participants/operatortotpdevice", "otp_totp/totpdevice", "otp_static/staticdevice")
    for page in (*pages, "django_otp_webauthn/webauthncredential"):
        assert admin_client.get(f"/admin/{page}/").status_code == 404, page


def test_sign_out_everywhere_reaches_a_session_whose_key_changed(registry_admin):
    secret, _ = enrolled(registry_admin)
    changed, other = Client(), Client()
    sign_in(changed, secret, "127.0.0.1")
    moved = changed.post(
        "/admin/password_change/",
        {
            "old_password": STAFF_PASSWORD,
            "new_password1": "a-fresh-passphrase-2026",
            "new_password2": "a-fresh-passphrase-2026",
        },
    )
    assert moved.status_code == 302 and changed.get("/admin/").status_code == 200  # its session, with a new key
    OperatorTOTPDevice.objects.filter(user=registry_admin).update(last_t=-1)  # the next step's code, a second browser
    sign_in(other, secret, "127.0.0.1", password="a-fresh-passphrase-2026")
    assert len(operators.sessions_of(registry_admin)) == 2
    other.post("/admin/account/sessions/")
    assert changed.get("/admin/").status_code == 302


@pytest.mark.parametrize(("mode", "expected"), [("optional", "ocen.W002"), ("required", None)])
def test_check_deploy_warns_of_an_optional_second_factor_in_production(mode, expected):
    done = deploy_check(OCEN_ADMIN_2FA=mode)
    assert ("ocen.W002" in done.stderr + done.stdout) is (expected is not None)


@pytest.mark.parametrize("second_step", ["verify", "enrol"])
def test_a_session_cookie_taken_before_the_second_factor_is_worth_nothing_after_it(registry_admin, second_step):
    operator = Client()
    operator.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
    taken = operator.cookies[django_settings.SESSION_COOKIE_NAME].value  # between the password and the code
    if second_step == "verify":
        secret, _ = enrolled(registry_admin)
        done = operator.post("/admin/account/second-factor/", {"code": pyotp.TOTP(secret).now()})
    else:
        secret = operator.get("/admin/account/second-factor/enrol/").context["secret"].replace(" ", "")
        done = operator.post("/admin/account/second-factor/enrol/", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code in (200, 302) and operator.get("/admin/").status_code == 200  # signed in

    thief = Client()
    thief.cookies[django_settings.SESSION_COOKIE_NAME] = taken
    assert thief.get("/admin/").status_code == 302  # to the sign-in: that session is gone
    assert operator.cookies[django_settings.SESSION_COOKIE_NAME].value != taken
    [row] = operators.sessions_of(registry_admin)  # the sessions page follows the new key
    assert row.session_key == operator.cookies[django_settings.SESSION_COOKIE_NAME].value
