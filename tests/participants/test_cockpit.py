"""The participant's page as the cockpit: one banner says what the registry does with it, and its buttons do
what they say (each through its confirmation), as the API and the audit trail then show."""

import pytest

from participants import services
from participants.models import AuditEvent, OperationalStatus, Participant, ReviewStatus
from tests.browser import chromium_page
from tests.keys import public_pem, rsa_key
from tests.participants.test_admin_browser import log_in
from tests.participants.test_console_truth import admin_url, fill_onboarding, send_onboarding, token_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def open_participant(page, live_server, participant):
    page.goto(admin_url(live_server, f"participant/{participant.pk}/change/"))
    return page.inner_text(".state-banner")


def press(page, button, confirm):
    """A cockpit button, then its confirmation page's submit."""
    page.click(f".registry-cockpit .operations a:has-text('{button}')")
    page.click(f"input[type=submit][value='{confirm}']")


def test_suspend_and_reinstate_from_the_banner(live_server, registry_admin, lender):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        assert open_participant(page, live_server, lender.participant).startswith("Can authenticate: yes")
        page.click(".registry-cockpit .operations a:has-text('Suspend…')")
        page.click("input[type=submit][value='Yes, suspend']")  # no reason: refused, nothing changed
        assert Participant.objects.get(pk=lender.participant.pk).status == OperationalStatus.ACTIVE
        page.fill("#id_reason", "overdue audit")
        page.click("input[type=submit][value='Yes, suspend']")
        page.wait_for_selector(".state-banner.state-warn")
        banner = page.inner_text(".state-banner")
        assert "Can authenticate: no — suspended on" in banner and "by asha because “overdue audit”" in banner
        primary = page.inner_text("#keys-group td.field-primary")  # as the API says: publicKey is null
        assert "primary (publicKey)" not in primary and "publicKey is null" in primary
        assert token_status(live_server, lender.participant.client_id, lender.client_secret) == 401

        press(page, "Reinstate", "Yes, reinstate")
        page.wait_for_selector(".state-banner.state-ok")
        assert "Suspend…" in page.inner_text(".registry-cockpit .operations")

    assert token_status(live_server, lender.participant.client_id, lender.client_secret) == 200
    actions = list(AuditEvent.objects.filter(participant=lender.participant).values_list("action", flat=True))
    assert actions[:2] == ["participant.reinstated", "participant.suspended"]


def test_an_application_received_goes_through_review_with_four_eyes(
    live_server, registry_admin, second_admin, settings
):
    settings.OCEN_FOUR_EYES = True
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "Emailed Finance", "LENDER", public_pem(rsa_key("emailed")).decode())
        page.check("#id_as_application")
        send_onboarding(page)
        page.wait_for_selector("code.client-secret")
        participant = Participant.objects.get(organisation__name="Emailed Finance")
        secret = page.inner_text("code.client-secret")
        assert participant.review_status == ReviewStatus.APPLIED
        assert "applied" in open_participant(page, live_server, participant).lower()
        assert token_status(live_server, participant.client_id, secret) == 401

        press(page, "Start review", "Yes, start the review")
        page.wait_for_selector(".state-banner:has-text('Another administrator must approve it.')")
        assert "Four-eyes rule" in page.inner_text(".state-banner")  # asha recorded it: no Approve for her
        assert "Approve" not in page.locator(".registry-cockpit .operations a").all_inner_texts()
        page.goto(f"{admin_url(live_server, 'participant/confirm/approve/')}?ids={participant.pk}")
        assert "cannot approve it" in page.inner_text(".messagelist")  # nor a confirmation to press
        assert Participant.objects.get(pk=participant.pk).review_status == ReviewStatus.UNDER_REVIEW

    with chromium_page() as page:
        log_in(page, live_server.url, "vikram")
        open_participant(page, live_server, participant)
        press(page, "Approve", "Yes, approve")
        page.wait_for_selector(".state-banner.state-ok")

    assert token_status(live_server, participant.client_id, secret) == 200
    started = AuditEvent.objects.get(action="participant.review_started", participant=participant)
    approved = AuditEvent.objects.get(action="participant.approved", participant=participant)
    assert started.actor == "asha" and approved.actor == "vikram"


def test_rejecting_from_the_cockpit_is_final(live_server, registry_admin, second_admin, actor, settings):
    settings.OCEN_FOUR_EYES = True
    application = services.onboard_participant(
        org_name="Doubtful Credit",
        role="LENDER",
        base_url="https://doubtful.example.in/ocen",
        public_key=public_pem(rsa_key("doubtful")),
        actor=actor,
    )
    with chromium_page() as page:
        log_in(page, live_server.url, "vikram")
        open_participant(page, live_server, application.participant)
        page.click(".registry-cockpit .operations a:has-text('Reject…')")
        assert "danger" in page.get_attribute("input[type=submit][name=confirm]", "class")
        page.fill("#id_reason", "licence not shown")
        page.click("input[type=submit][value='Yes, reject']")
        page.wait_for_selector(".state-banner.state-stop")
        assert "Rejection is final" in page.inner_text(".state-banner")
        assert page.locator(".registry-cockpit .operations a").all_inner_texts() == ["Check a signature…", "Timeline"]

    assert token_status(live_server, application.participant.client_id, application.client_secret) == 401
    rejected = AuditEvent.objects.get(action="participant.rejected", participant=application.participant)
    assert rejected.details["reason"] == "licence not shown" and rejected.actor == "vikram"
