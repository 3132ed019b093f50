"""Admin login lockout after repeated failures (django-axes), each lockout audited; an IPv6 address counts by its
/64, for passwords and second-factor codes alike."""

import base64
import time

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from participants.models import AuditEvent
from participants.models.operators import OperatorTOTPDevice
from tests.conftest import STAFF_PASSWORD


def log_in(client, password, address=None):
    forwarded = {"HTTP_X_FORWARDED_FOR": address} if address else {}
    url = reverse("admin:login") + "?next=/admin/"
    return client.post(url, {"username": "asha", "password": password}, **forwarded)


def test_repeated_failures_lock_the_admin_account_out_and_are_audited(client, registry_admin, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert log_in(client, "wrong").status_code == 200  # the form again, with an error
    locked = log_in(client, "wrong")
    assert locked.status_code == 429
    assert log_in(client, STAFF_PASSWORD).status_code == 429  # the right password too, while locked
    # Audited once, when the account locks (not again for each attempt refused while it is locked).
    [event] = AuditEvent.objects.filter(action="admin.locked_out")
    assert event.details == {"username": "asha"} and event.remote_addr == "127.0.0.1"
    assert "wrong" not in str(event.details) and STAFF_PASSWORD not in str(event.details)


def test_a_successful_login_resets_the_count(client, registry_admin, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        log_in(client, "wrong")
    assert log_in(client, STAFF_PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        assert log_in(client, "wrong").status_code == 200
    assert not AuditEvent.objects.filter(action="admin.locked_out").exists()


@pytest.fixture
def behind_a_proxy(settings):
    settings.OCEN_TRUSTED_PROXY_COUNT = 1  # the proxy reports the address in X-Forwarded-For


def test_wrong_passwords_from_the_addresses_of_one_ipv6_network_lock_that_network_out(
    registry_admin, settings, behind_a_proxy
):
    limit = settings.AXES_FAILURE_LIMIT
    for host in range(1, limit):  # a new address of the same /64 for each guess
        assert log_in(Client(), "wrong", f"2001:db8:1:2::{host}").status_code == 200
    assert log_in(Client(), "wrong", f"2001:db8:1:2::{limit}").status_code == 429
    assert log_in(Client(), STAFF_PASSWORD, "2001:db8:1:2:ffff:ffff:ffff:1").status_code == 429  # anywhere in it
    assert log_in(Client(), STAFF_PASSWORD, "2001:db8:1:3::1").status_code == 302  # the next /64 is someone else
    [event] = AuditEvent.objects.filter(action="admin.locked_out")
    assert event.remote_addr == f"2001:db8:1:2::{limit}"
    assert event.details == {"username": "asha", "network": "2001:db8:1:2::/64"}


def wrong_code(secret: str) -> str:
    """Six digits that are none of the codes the app gives around now (the device takes one step either side)."""
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now, counter_offset=offset) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def test_wrong_codes_from_the_addresses_of_one_ipv6_network_lock_that_network_out(
    registry_admin, settings, behind_a_proxy
):
    settings.OCEN_ADMIN_2FA = "required"
    device = OperatorTOTPDevice.objects.create(user=registry_admin, name="Authenticator app", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()

    def sign_in(address, code):
        client = Client(HTTP_X_FORWARDED_FOR=address)
        client.post(reverse("admin:login"), {"username": "asha", "password": STAFF_PASSWORD})
        client.post(reverse("operator-verify"), {"code": code})
        return client.get("/admin/").status_code

    for host in range(1, settings.AXES_FAILURE_LIMIT + 1):  # the right password, then a guess, from a new address
        assert sign_in(f"2001:db8:1:2::{host}", wrong_code(secret)) == 302
    assert sign_in("2001:db8:1:2::beef", pyotp.TOTP(secret).now()) == 302  # even the right code: not in
    assert sign_in("2001:db8:1:3::1", pyotp.TOTP(secret).now()) == 200  # the operator, from another network
    [event] = AuditEvent.objects.filter(action="admin.locked_out")
    assert event.details["network"] == "2001:db8:1:2::/64"
