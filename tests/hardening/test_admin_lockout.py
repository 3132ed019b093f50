"""Admin login lockout after repeated failures (django-axes), each lockout audited."""

from django.urls import reverse

from participants.models import AuditEvent
from tests.conftest import STAFF_PASSWORD


def log_in(client, password):
    return client.post(reverse("admin:login") + "?next=/admin/", {"username": "asha", "password": password})


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
