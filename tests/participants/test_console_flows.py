"""Each console flow clicked through in Chromium, then checked where participants see it: the registry's API
over HTTP, and the audit trail. (Onboarding, credentials, offboarding, review and suspension are walked in
test_admin_browser.py and test_cockpit.py; the signature check and exports in test_console_truth.py and
test_exports.py.)"""

import datetime as dt
import json

import pytest
from django.utils import timezone

from participants import services
from participants.models import AuditEvent, KeyStatus, Product, ProductNetwork, Role
from tests.browser import chromium_page
from tests.keys import public_pem, rsa_key
from tests.participants.test_admin_browser import log_in
from tests.participants.test_cockpit import open_participant
from tests.participants.test_console_truth import admin_url, api_get, onboarded, token_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def details(live_server, caller, participant):
    """GetParticipantDetails as a provider calls it."""
    response = api_get(live_server, caller, f"/service/participant-roles/{participant.pk}")
    assert response.status_code == 200, response.text
    return response.json()


def published(record) -> dict:
    """kid → the key as publicKeys lists it."""
    return {key["kid"]: key for key in record["publicKeys"]["keys"]}


def key_row(page, kid, label):
    """A key row's operation button (Make primary…, Retire…, Revoke…)."""
    return page.locator(f"tr:has([data-copy='{kid}']) .key-ops a:has-text('{label}')")


def key_row_button(page, kid, label):
    key_row(page, kid, label).click()


def actions_for(participant):
    return list(
        AuditEvent.objects.filter(participant=participant).order_by("at", "pk").values_list("action", flat=True)
    )


def test_rotating_from_the_cockpit_shows_the_new_secret_once_and_the_old_one_stops(live_server, registry_admin, lender):
    participant = lender.participant
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        open_participant(page, live_server, participant)
        page.click(".registry-cockpit .operations a:has-text('Rotate client secret')")
        page.fill("#id_reason", "scheduled quarterly rotation")
        page.click("input[type=submit][value='Yes, issue new secrets']")
        new_secret = page.inner_text("code.client-secret")
        page.reload()
        assert new_secret not in page.content()  # shown once

    assert token_status(live_server, participant.client_id, lender.client_secret) == 401
    assert token_status(live_server, participant.client_id, new_secret) == 200
    rotated = AuditEvent.objects.get(action="participant.secret_rotated", participant=participant)
    assert rotated.actor == "asha" and rotated.details["reason"] == "scheduled quarterly rotation"
    assert new_secret not in json.dumps(rotated.details)


def test_a_key_added_for_later_switches_then_the_old_one_is_retired_and_revoked(
    live_server, registry_admin, lender, loan_agent
):
    participant, old_kid = lender.participant, lender.participant.keys.get().kid
    switch_at = timezone.localtime(timezone.now() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        open_participant(page, live_server, participant)
        page.click(".registry-cockpit .operations a:has-text('Add key')")
        page.fill("#id_public_key", public_pem(rsa_key("lender-2027")).decode())
        page.check("input[name=switch][value=at]")
        page.fill("#id_switch_at", switch_at.strftime("%Y-%m-%dT%H:%M"))
        page.click("input[type=submit][value='Add key']")
        page.wait_for_selector(".messagelist")
        assert "it becomes the primary key (publicKey) at " + switch_at.strftime("%Y-%m-%d %H:%M") in page.inner_text(
            ".messagelist"
        )
        new_kid = participant.keys.exclude(kid=old_kid).get().kid

        record = details(live_server, loan_agent, participant)
        assert json.loads(record["publicKey"])["kid"] == old_kid  # not yet: the switch is scheduled
        assert dt.datetime.fromisoformat(published(record)[new_kid]["primaryFrom"]) == switch_at

        assert key_row(page, old_kid, "Retire…").count() == 0  # the primary key: its successor first

        key_row_button(page, new_kid, "Make primary…")
        page.check("input[name=switch][value=now]")
        page.click("input[type=submit][value='Make primary']")
        page.wait_for_selector(".messagelist")
        assert json.loads(details(live_server, loan_agent, participant)["publicKey"])["kid"] == new_kid
        assert page.inner_text(f"tr:has([data-copy='{new_kid}']) td.field-primary") == "primary (publicKey)"
        assert "no longer primary" in page.inner_text(f"tr:has([data-copy='{old_kid}']) td.field-primary")

        key_row_button(page, old_kid, "Retire…")
        page.click("input[type=submit][value='Yes, retire']")
        page.wait_for_selector(f".messagelist:has-text('Retired {old_kid}.')")
        assert published(details(live_server, loan_agent, participant))[old_kid]["status"] == KeyStatus.RETIRED

        key_row_button(page, old_kid, "Revoke…")
        page.click("input[type=submit][value='Yes, revoke']")  # a revocation needs its reason
        assert participant.keys.get(kid=old_kid).status == KeyStatus.RETIRED
        page.fill("#id_reason", "laptop lost")
        page.click("input[type=submit][value='Yes, revoke']")
        page.wait_for_selector(f".messagelist:has-text('Revoked {old_kid}.')")
        assert page.locator(f"tr:has([data-copy='{old_kid}']) .key-ops").count() == 0  # nothing left to do

    revoked = published(details(live_server, loan_agent, participant))[old_kid]
    assert revoked["status"] == KeyStatus.REVOKED and "revokedAt" in revoked
    assert actions_for(participant)[-4:] == ["key.added", "key.promoted", "key.retired", "key.revoked"]
    revocation = AuditEvent.objects.get(action="key.revoked", participant=participant)
    assert revocation.actor == "asha" and revocation.details["reason"] == "laptop lost"


def test_a_product_and_its_network_built_in_the_console_are_what_the_api_lists(
    live_server, registry_admin, actor, lender, loan_agent
):
    other_lender = onboarded(actor, "Coastal Finance").participant
    disbursal = onboarded(actor, "Rupee Disbursals", Role.DISBURSEMENT_PARTNER).participant
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        for owner in (other_lender, lender.participant):  # the same product name at two lenders
            page.goto(admin_url(live_server, "product/add/"))
            page.select_option("#id_lender", str(owner.pk))
            page.fill("#id_name", "Working Capital 90")
            page.click("[name=_save]")
            page.wait_for_selector("text=was added successfully")
        product = Product.objects.get(lender=lender.participant)

        page.goto(admin_url(live_server, "productnetwork/add/"))
        page.fill("#id_name", "MSME Credit Line")
        page.select_option("#id_product", label="Working Capital 90 — Bharat Lending Bank")
        page.select_option("#id_created_by", str(loan_agent.participant.pk))
        page.select_option("#id_memberships-0-participant", str(disbursal.pk))
        page.click("[name=_save]")
        page.wait_for_selector("text=was added successfully")
        network = ProductNetwork.objects.get()
        assert network.product == product

        listing = api_get(live_server, loan_agent, f"/service/product-networks/{network.pk}/participants").json()
        assert [p["id"] for p in listing["DISBURSEMENT_PARTNER"]] == [str(disbursal.pk)]
        assert api_get(live_server, loan_agent, f"/service/products/{product.pk}").status_code == 200

        page.goto(admin_url(live_server, f"productnetwork/{network.pk}/change/"))
        page.click("#memberships-group tr.form-row:has-text('Rupee Disbursals') td.delete label")  # the bin icon
        page.wait_for_selector("text=This item will be deleted.")
        page.click("[name=_save]")
        page.wait_for_selector("text=was changed successfully")

    listing = api_get(live_server, loan_agent, f"/service/product-networks/{network.pk}/participants").json()
    assert str(disbursal.pk) not in json.dumps(listing)
    assert {str(loan_agent.participant.pk), str(lender.participant.pk)} <= {
        p["id"] for members in listing.values() for p in members
    }
    network_events = AuditEvent.objects.filter(action__startswith="network.").order_by("at", "pk")
    assert [(e.action, e.actor) for e in network_events][-2:] == [
        ("network.member_added", "asha"),
        ("network.member_removed", "asha"),
    ]
    assert AuditEvent.objects.filter(action="network.created", actor="asha").count() == 1
    assert AuditEvent.objects.filter(action="product.created", actor="asha").count() == 2


def test_a_viewer_walks_every_console_page_and_can_change_nothing(live_server, registry_viewer, actor, lender, network):
    from tests.participants.test_admin_permissions import database_state

    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("second")), actor=actor)
    participant, key = lender.participant, lender.participant.keys.order_by("created_at").first()
    pages = [
        "/admin/",
        *(
            admin_url(live_server, path).removeprefix(live_server.url)
            for path in (
                f"participant/{participant.pk}/change/",
                f"participant/{participant.pk}/history/",
                f"participant/{participant.pk}/signature-check/",
                f"participantkey/{key.pk}/change/",
                f"productnetwork/{network.pk}/change/",
                f"product/{network.product_id}/change/",
            )
        ),
    ]
    with chromium_page() as page:
        log_in(page, live_server.url, "meera")
        before = database_state()  # after signing in, which records the viewer's last login
        sidebar = page.locator("#nav-sidebar a[href^='/admin/']").evaluate_all("links => links.map(a => a.pathname)")
        walked = list(dict.fromkeys([*sidebar, *pages]))
        assert len(walked) >= 12, walked  # the sidebar's lists and each kind of record page
        for path in walked:
            response = page.goto(f"{live_server.url}{path}")
            assert response.status in (200, 403), (path, response.status)
            if response.status == 403:
                assert "signed in as meera" in page.inner_text("#content-main"), path
                continue
            offered = page.locator(
                "[name=_save], [name=_continue], [name=_addanother], select[name=action], a.addlink, .key-ops a, "
                "#memberships-group td.delete label, .registry-cockpit .operations a"
            ).all_inner_texts()
            assert set(offered) <= {"Check a signature…", "Timeline"}, (path, offered)

        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")

        def refused(url, form):
            """Refused as a viewer (the console's refusal page), not for a missing CSRF token."""
            response = page.request.post(url, form=form, headers={"Referer": url})
            return response.status == 403 and "You are signed in as <strong>meera</strong>" in response.text()

        forged = {"csrfmiddlewaretoken": csrf, "reason": "forged", "confirmed": "yes", "ids": str(participant.pk)}
        for operation in ("suspend", "rotate_secret", "offboard", "approve"):
            url = f"{live_server.url}/admin/participants/participant/confirm/{operation}/"
            assert refused(url, forged), operation
        for operation in ("retire", "revoke", "promote"):
            url = admin_url(live_server, f"participantkey/{key.pk}/{operation}/")
            assert refused(url, {**forged, "switch": "now"}), operation
        url = admin_url(live_server, f"participant/{participant.pk}/add-key/")
        form = {**forged, "public_key": public_pem(rsa_key("evil")).decode()}
        assert refused(url, form)

    assert database_state() == before
