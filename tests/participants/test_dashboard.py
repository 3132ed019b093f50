"""The console's index is a dashboard of what the registry holds now, at a fixed number of queries."""

import datetime as dt
import os
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from participants import services
from participants.admin.dashboard import DASHBOARD_QUERIES, dashboard
from participants.models import ParticipantKey, ReviewStatus, Role
from tests.conftest import STAFF_PASSWORD
from tests.dot import dot_token_request
from tests.keys import certificate_pem, public_pem, rsa_key
from tests.participants.test_console_truth import onboarded

pytestmark = pytest.mark.django_db


def section(page: str, name: str) -> str:
    """The text of one dashboard section, tags stripped."""
    match = re.search(rf'<section class="module[^"]*" id="dash-{name}">(.*?)</section>', page, re.S)
    assert match, f"no dashboard section {name!r}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def onboard(actor, name, role=Role.LOAN_AGENT, **extra):
    return onboarded(actor, name, role, **extra)


def expired(participant) -> None:
    """Its only key ran out last month (the registry refuses to revoke a primary key with no successor)."""
    past = timezone.now() - dt.timedelta(days=40)
    ParticipantKey.objects.filter(participant=participant).update(
        valid_from=past, valid_until=past + dt.timedelta(days=10)
    )


@pytest.fixture
def busy_registry(actor, lender):
    """Participants in every state an operator acts on, keys about to expire, a token, signals."""
    now = timezone.now()
    onboard(actor, "Applied Finance", pending=ReviewStatus.APPLIED)
    onboard(actor, "Queued Credit", pending=ReviewStatus.UNDER_REVIEW)
    suspended = onboard(actor, "Paused Agent")
    services.suspend_participant(participant=suspended.participant, actor=actor, reason="overdue audit")
    soon = rsa_key("expiring certificate")
    certificate = certificate_pem(soon, not_before=now - dt.timedelta(days=300), not_after=now + dt.timedelta(days=20))
    expiring = onboard(actor, "Short Lived Lender", role=Role.LENDER, public_key=certificate)
    services.add_participant_key(
        participant=lender.participant,
        public_key=public_pem(rsa_key("lender next")),
        actor=actor,
        valid_until=now + dt.timedelta(days=60),
    )
    keyless = onboard(actor, "Keyless Partner", role=Role.KYC_PARTNER)
    expired(keyless.participant)
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
    assert dot_token_request(expiring.participant.client_id, expiring.client_secret)[0] == 200
    return {"keyless": keyless, "expiring": expiring}


def test_the_index_shows_states_roles_and_the_review_queue(admin_client, busy_registry):
    page = admin_client.get("/admin/").content.decode()
    states = section(page, "states")
    for figure in ("3 Active", "1 Applied", "1 Under review", "1 Suspended", "0 Rejected", "0 Offboarded"):
        assert figure in states
    assert "2 Lender" in states and "3 Loan agent" in states and "1 KYC partner" in states
    review = section(page, "review")
    assert "(2)" in review and "Applied Finance" in review and "Queued Credit" in review
    assert review.index("Applied Finance") < review.index("Queued Credit")  # the longest waiting first


def test_the_index_shows_what_expires_and_who_cannot_sign(admin_client, busy_registry):
    page = admin_client.get("/admin/").content.decode()
    expiry = section(page, "expiry")
    assert "1 certificates within 30 days" in expiry and "0 keys within 30 days" in expiry
    assert "1 keys within 90 days" in expiry and "1 certificates within 90 days" in expiry
    assert expiry.index("Short Lived Lender") < expiry.index("Bharat Lending Bank")  # soonest first
    no_key = section(page, "no-key")
    assert "(1)" in no_key and "Keyless Partner" in no_key


def test_the_index_charts_tokens_per_hour_and_onboardings_per_week(admin_client, busy_registry):
    page = admin_client.get("/admin/").content.decode()
    tokens = re.findall(r'data-count="(\d+)"', section_html(page, "tokens"))
    assert len(tokens) == 24 and tokens[-1] == "2" and sum(map(int, tokens)) == 2
    weeks = re.findall(r'data-count="(\d+)"', section_html(page, "onboardings"))
    assert len(weeks) == 12 and weeks[-1] == "6" and sum(map(int, weeks)) == 6  # all onboarded this week


def test_the_token_chart_keeps_past_hours_after_cleanup_deletes_their_tokens(admin_client, lender):
    from django.core.management import call_command
    from oauth2_provider.models import AccessToken

    from participants import issuance

    now = timezone.now()
    three_hours_ago = issuance.hour_start(now) - 3 * issuance.HOUR + dt.timedelta(minutes=10)
    for _ in range(3):
        assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
    AccessToken.objects.update(created=three_hours_ago, expires=three_hours_ago + dt.timedelta(hours=1))

    def chart():
        page = admin_client.get("/admin/").content.decode()
        return [int(n) for n in re.findall(r'data-count="(\d+)"', section_html(page, "tokens"))]

    before = chart()
    call_command("cleanup_tokens", "--grace", "0", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not AccessToken.objects.exists()
    assert chart() == before and before[-4] == 3 and sum(before) == 3  # counted before they went


def section_html(page: str, name: str) -> str:
    return re.search(rf'<section class="module[^"]*" id="dash-{name}">(.*?)</section>', page, re.S).group(1)


def test_the_index_shows_lockouts_failure_signals_and_recent_events(client, admin_client, busy_registry, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/admin/login/?next=/admin/", {"username": "mallory", "password": "guess"})
    signals = section(admin_client.get("/admin/").content.decode(), "signals")
    assert "lockout" in signals and "mallory" in signals and "127.0.0.1" in signals
    recent = section(admin_client.get("/admin/").content.decode(), "recent")
    assert "admin.locked_out" in recent and "key.added" in recent
    assert STAFF_PASSWORD not in signals and "guess" not in signals


def test_the_dashboard_costs_the_same_queries_however_big_the_registry(actor, busy_registry):
    with CaptureQueriesContext(connection) as busy:
        dashboard()
    for i in range(5):
        onboard(actor, f"Another Agent {i}")
    with CaptureQueriesContext(connection) as busier:
        dashboard()
    assert len(busy) == len(busier) == DASHBOARD_QUERIES


def test_a_full_list_of_keyless_participants_is_counted_with_one_more_query(admin_client, actor, busy_registry):
    from participants.admin.dashboard import LIST_LENGTH

    for i in range(LIST_LENGTH):
        expired(onboard(actor, f"Keyless Agent {i}").participant)
    with CaptureQueriesContext(connection) as full:
        figures = dashboard()
    assert len(full) == DASHBOARD_QUERIES + 1
    assert len(figures["no_usable_key"]) == LIST_LENGTH and figures["no_usable_key_count"] == LIST_LENGTH + 1
    assert f"({LIST_LENGTH + 1})" in section(admin_client.get("/admin/").content.decode(), "no-key")


def test_a_user_who_may_not_see_participants_gets_no_dashboard(client, db):
    from django.contrib.auth import get_user_model

    from tests.conftest import make_staff

    make_staff("ravi", None)
    client.force_login(get_user_model().objects.get(username="ravi"))
    page = client.get("/admin/").content.decode()
    assert 'id="dashboard"' not in page


def test_the_usable_key_query_is_the_toolkits_rule_for_every_key(actor, busy_registry, lender):
    """ParticipantKeyQuerySet.usable_at, which the dashboard counts with, agrees with is_usable_at row by row."""
    from participants.models import ParticipantKey

    services.suspend_participant(participant=lender.participant, actor=actor, reason="withheld keys")
    now = timezone.now()
    for moment in (now, now + dt.timedelta(days=30), now + dt.timedelta(days=90)):
        by_query = set(ParticipantKey.objects.usable_at(moment).values_list("pk", flat=True))
        by_rule = {key.pk for key in ParticipantKey.objects.select_related("participant") if key.is_usable_at(moment)}
        assert by_query == by_rule and by_query  # some keys are usable, some are not: both sides are tested
        assert by_query != set(ParticipantKey.objects.values_list("pk", flat=True))
