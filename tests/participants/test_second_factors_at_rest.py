"""Operators' second factors at rest (issue 31): no code or password in django-axes' attempt log; an authenticator
app's secret sealed with the registry's encryption keys (OCEN_SIGNING_KEY_ENCRYPTION_KEYS), recovery codes kept as
keyed digests; those of an earlier release converted by the migration."""

import base64
import time

import pyotp
import pytest
from axes.models import AccessAttempt
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_otp import device_classes
from django_otp.plugins.otp_static.models import StaticToken

from participants import operators
from participants.models import AuditEvent
from participants.models.operators import OperatorTOTPDevice, recovery_code_digests
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db
BEFORE = [("participants", "0018_audit_actions_as_choices")]
SEALED = [("participants", "0019_second_factors_sealed")]


@pytest.fixture
def encryption_key(settings):
    """The registry's encryption key, as production sets it."""
    key = Fernet.generate_key().decode()
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def second_factor_required(settings):
    settings.OCEN_ADMIN_2FA = "required"


def stored_second_factors() -> list[str]:
    """Every value the database holds in the tables of django-otp's devices (any kind) and of recovery codes."""
    tables = [model._meta.db_table for model in device_classes()] + [StaticToken._meta.db_table]
    values = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - a model's table
            values += [str(value) for row in cursor.fetchall() for value in row]
    return values


def wrong_code(secret: str) -> str:
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now, counter_offset=offset) for offset in (-1, 0, 1)}
    return next(code for code in ("804885", "000000", "111111") if code not in valid)


def test_no_code_or_password_reaches_the_attempt_log(client, registry_admin, second_factor_required):
    device = OperatorTOTPDevice.objects.create(user=registry_admin, name="Authenticator app", confirmed=True)
    secret = base64.b32encode(device.bin_key).decode()
    operators.new_recovery_codes(registry_admin)
    guessed = {"password": "not-the-password-2026", "app": wrong_code(secret), "recovery": "zzzz-zzzz"}
    client.post("/admin/login/", {"username": "asha", "password": guessed["password"]})
    client.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
    client.post("/admin/account/second-factor/", {"code": guessed["app"]})
    client.post("/admin/account/second-factor/", {"code": guessed["recovery"]})

    [attempt] = AccessAttempt.objects.filter(username="asha")
    assert attempt.failures_since_start == 3
    logged = attempt.post_data + attempt.get_data
    assert "code=" in logged and "password=" in logged  # what was sent is named, its value is not
    for value in (*guessed.values(), "zzzzzzzz", STAFF_PASSWORD):
        assert value not in logged, value


def test_an_apps_secret_is_stored_sealed_with_the_registrys_key(
    client, registry_admin, encryption_key, second_factor_required
):
    client.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
    secret = client.get("/admin/account/second-factor/enrol/").context["secret"].replace(" ", "")
    enrolled = client.post("/admin/account/second-factor/enrol/", {"code": pyotp.TOTP(secret).now()})
    assert enrolled.status_code == 200 and len(enrolled.context["codes"]) == 10
    key = base64.b32decode(secret)

    stored = stored_second_factors()
    assert not [value for value in stored if key.hex() in value.lower() or secret in value.upper()]

    def opened(value):
        try:
            return MultiFernet([Fernet(encryption_key)]).decrypt(value.encode())
        except (InvalidToken, ValueError):
            return None

    assert key in [opened(value) for value in stored]  # sealed, with the registry's key
    assert not [code for code in enrolled.context["codes"] if code in stored]

    OperatorTOTPDevice.objects.update(last_t=-1)  # the next step's code, as at the next sign-in
    client.logout()
    client.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
    assert client.post("/admin/account/second-factor/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_recovery_codes_are_kept_as_digests_and_each_signs_in_once(
    client, registry_admin, encryption_key, second_factor_required
):
    codes = operators.new_recovery_codes(registry_admin)
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(codes)
    assert stored == {recovery_code_digests(code)[0] for code in codes}

    for attempt, expected in ((1, 302), (2, 200)):  # the second time: refused, the form again
        client.logout()
        client.post("/admin/login/", {"username": "asha", "password": STAFF_PASSWORD})
        answer = client.post("/admin/account/second-factor/", {"code": codes[0].upper()})
        assert answer.status_code == expected, attempt
    assert AuditEvent.objects.get(action="operator.recovery_code_used").details == {"username": "asha", "left": 9}


def test_a_recovery_code_made_under_the_previous_key_still_works_while_that_key_is_listed(
    registry_admin, settings, encryption_key
):
    codes = operators.new_recovery_codes(registry_admin)
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), encryption_key]  # NEW,OLD
    assert operators._matching_device(registry_admin, codes[0]) is not None
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS[:1]
    assert operators._matching_device(registry_admin, codes[1]) is None


def test_apps_sealed_under_an_old_key_are_sealed_again_under_the_new_one(registry_admin, settings, encryption_key):
    device = OperatorTOTPDevice.objects.create(user=registry_admin, name="Authenticator app", confirmed=True)
    secret = device.bin_key
    new_key = Fernet.generate_key().decode()
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [new_key, encryption_key]  # NEW,OLD, as the runbook deploys them
    assert operators.reseal_second_factors() == 1
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [new_key]  # OLD retired
    device.refresh_from_db()
    assert device.bin_key == secret


def test_the_app_device_keeps_django_otps_own_rules(registry_admin, encryption_key):
    """OperatorTOTPDevice borrows TOTPDevice's methods: this pins what they do with it (one use per time step, a
    step of drift, remembered; the otpauth URL with the secret and the registry's name)."""
    device = OperatorTOTPDevice.objects.create(user=registry_admin, name="Authenticator app", confirmed=True)
    late = OperatorTOTPDevice.objects.create(user=registry_admin, name="A slow phone", confirmed=True)
    totp, now = pyotp.TOTP(base64.b32encode(device.bin_key).decode()), time.time()
    assert device.verify_token(totp.at(now)) and not device.verify_token(totp.at(now))  # taken once
    assert late.verify_token(
        pyotp.TOTP(base64.b32encode(late.bin_key).decode()).at(now, counter_offset=-1)
    )  # a step behind
    late.refresh_from_db()
    assert late.drift == -1  # and remembered
    assert f"secret={base64.b32encode(device.bin_key).decode()}" in device.config_url
    assert "issuer=OCEN%20Registry" in device.config_url and "asha" in device.config_url


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_seals_an_earlier_releases_second_factors(encryption_key):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    parents = [parent.key for parent in executor.loader.graph.node_map[SEALED[0]].parents]
    old = executor.loader.project_state(parents).apps  # participants, django-otp and axes just before it
    user = old.get_model("auth", "User").objects.create(username="asha", is_staff=True)
    key = bytes(range(20))
    old.get_model("otp_totp", "TOTPDevice").objects.create(user=user, name="app", confirmed=True, key=key.hex())
    static = old.get_model("otp_static", "StaticDevice").objects.create(user=user, name="codes", confirmed=True)
    old.get_model("otp_static", "StaticToken").objects.create(device=static, token="abcdefgh")
    old.get_model("axes", "AccessAttempt").objects.create(
        username="asha",
        ip_address="198.51.100.7",
        user_agent="x",
        get_data="",
        post_data="csrfmiddlewaretoken=t0k3n\ncode=804885\nnext=/admin/",
        http_accept="*/*",
        path_info="/admin/account/second-factor/",
        failures_since_start=1,
    )

    executor = MigrationExecutor(connection)
    executor.migrate(SEALED)
    try:
        stored = stored_second_factors()
        assert key.hex() not in stored and "abcdefgh" not in stored
        device = OperatorTOTPDevice.objects.get(user_id=user.pk)
        assert device.bin_key == key and device.confirmed and device.name == "app"
        assert device.verify_token(pyotp.TOTP(base64.b32encode(key).decode()).now())
        assert operators._matching_device(device.user, "abcdefgh") is not None
        post_data = AccessAttempt.objects.get(username="asha").post_data
        assert "804885" not in post_data and "t0k3n" not in post_data and "next=/admin/" in post_data
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
