"""An administrator onboards and offboards a participant in a real browser (Chromium via Playwright)."""

import os

import pytest
from oauth2_provider.models import AccessToken

from participants import services
from participants.models import KeyStatus, OperationalStatus, Participant
from tests.browser import chromium_page
from tests.conftest import STAFF_PASSWORD
from tests.dot import dot_token_request
from tests.keys import public_pem, rsa_key

# serialized_rollback: the flush between live-server tests would otherwise drop the groups the migrations made.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
SCREENSHOTS = os.environ.get("OCEN_TEST_SCREENSHOTS")


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def log_in(page, base_url, username):
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_selector("#nav-sidebar")  # the console's sidebar: signed in


def test_administrator_onboards_then_offboards_a_participant_in_the_browser(live_server, registry_admin):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.click("#nav-sidebar a[href='/admin/participants/participant/']")
        page.click("a.addlink[href$='/participant/add/']")
        page.fill("#id_new_organisation_name", "Bharat Lending Bank")
        page.select_option("#id_role", "LENDER")
        page.fill("#id_base_url", "https://lender.example.in/ocen")
        page.fill("#id_public_key", public_pem(rsa_key("lender")).decode())
        shot(page, "1-onboarding-form")
        page.click("input[type=submit][value='Onboard and issue credentials']")

        page.wait_for_selector("code.client-secret")
        shot(page, "2-credentials-once")
        participant_id = page.inner_text("code.participant-id")
        client_id = page.inner_text("code.client-id")
        client_secret = page.inner_text("code.client-secret")

        participant = Participant.objects.get(pk=participant_id)
        assert participant.client_id == client_id and participant.status == OperationalStatus.ACTIVE
        assert dot_token_request(client_id, client_secret)[0] == 200  # the secret read off the page works

        page.reload()
        assert page.locator("code.client-secret").count() == 0
        assert client_secret not in page.content()

        page.goto(f"{live_server.url}/admin/participants/participant/{participant_id}/change/")
        assert client_secret not in page.content()
        page.click("a.offboard-link")
        page.wait_for_selector(".offboard-plan")
        plan = page.inner_text(".offboard-plan")
        assert client_id in plan and "Revoke its 1 issued access token" in plan
        page.fill("#id_reason", "licence cancelled")
        page.fill("#id_confirm_name", "bharat lending bank")  # irreversible: the name exactly, or nothing
        page.click("input[type=submit][value='Yes, offboard']")
        page.wait_for_selector("text=Type “Bharat Lending Bank” exactly, to confirm.")
        assert Participant.objects.get(pk=participant_id).status == OperationalStatus.ACTIVE
        page.fill("#id_confirm_name", "Bharat Lending Bank")
        shot(page, "3-offboard-confirmation")
        page.click("input[type=submit][value='Yes, offboard']")
        page.wait_for_selector("text=Offboarded: Bharat Lending Bank")
        shot(page, "4-after-offboarding")

    participant.refresh_from_db()
    assert participant.status == OperationalStatus.OFFBOARDED and participant.application is None
    assert participant.status_reason == "licence cancelled"
    assert set(participant.keys.values_list("status", flat=True)) == {KeyStatus.REVOKED}
    assert AccessToken.objects.count() == 0
    assert dot_token_request(client_id, client_secret) == (
        401,
        {"error": "invalid_client"},
    )


def test_administrator_approves_suspends_and_rotates_in_the_browser(
    live_server, registry_admin, second_admin, settings
):
    settings.OCEN_FOUR_EYES = True
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(f"{live_server.url}/admin/participants/participant/add/")
        page.fill("#id_new_organisation_name", "Udyam Loan Agent")
        page.select_option("#id_role", "LOAN_AGENT")
        page.fill("#id_base_url", "https://agent.example.in/ocen")
        page.fill("#id_public_key", public_pem(rsa_key("agent")).decode())
        page.click("input[type=submit][value='Onboard and issue credentials']")
        page.wait_for_selector("text=under review")
        participant_id = page.inner_text("code.participant-id")

        def run_action(value):
            page.goto(f"{live_server.url}/admin/participants/participant/")
            page.check(f"input[name=_selected_action][value='{participant_id}']")
            page.select_option("select[name=action]", value)
            page.click("button[name=index]")

        run_action("approve")
        page.wait_for_selector("text=cannot approve it")
        page.context.clear_cookies()
        log_in(page, live_server.url, "vikram")
        run_action("approve")
        page.wait_for_selector("text=Approved 1 participant")
        run_action("suspend")
        page.fill("#id_reason", "regulator's order")
        page.click("input[type=submit][value='Yes, suspend']")
        page.wait_for_selector("text=Suspended: Udyam Loan Agent")
        run_action("reinstate")
        page.wait_for_selector("text=Reinstated 1 participant")
        run_action("rotate_secret")
        page.click("input[type=submit][value='Yes, issue new secrets']")
        new_secret = page.inner_text("code.client-secret")

    participant = Participant.objects.get(pk=participant_id)
    assert participant.can_authenticate and participant.approved_by == second_admin
    assert dot_token_request(participant.client_id, new_secret)[0] == 200


def test_administrator_builds_a_product_and_a_network_in_the_browser(live_server, registry_admin, actor):
    from participants.models import Product, ProductNetwork
    from tests.keys import public_pem, rsa_key

    def onboard(name, role):
        return services.onboard_participant(
            org_name=name,
            role=role,
            base_url=f"https://{role.lower().replace('_', '-')}.example.in",
            public_key=public_pem(rsa_key(name)),
            actor=actor,
        ).participant

    lender, agent, kyc = (
        onboard("Bharat Bank", "LENDER"),
        onboard("Udyam Agent", "LOAN_AGENT"),
        onboard("KYC Co", "KYC_PARTNER"),
    )
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(f"{live_server.url}/admin/participants/product/add/")
        page.select_option("#id_lender", str(lender.pk))
        page.fill("#id_name", "Working Capital 90")
        page.check("#id_is_aa_flow_required")
        page.click("[name=_save]")
        page.wait_for_selector("text=was added successfully")
        product = Product.objects.get()

        page.goto(f"{live_server.url}/admin/participants/productnetwork/add/")
        page.fill("#id_name", "MSME Credit Line")
        page.select_option("#id_product", str(product.pk))
        page.select_option("#id_created_by", str(agent.pk))
        page.select_option("#id_memberships-0-participant", str(kyc.pk))
        shot(page, "5-network-form")
        page.click("[name=_save]")
        page.wait_for_selector("text=was added successfully")
    network = ProductNetwork.objects.get()
    assert {m.participant_id for m in network.memberships.current()} == {agent.pk, lender.pk, kyc.pk}
