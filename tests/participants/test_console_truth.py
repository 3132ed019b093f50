"""What an operator sees and types in the console is what the registry records and does.

Each test walks a page in Chromium, then checks the registry itself: its API over HTTP, its records and
the audit trail.
"""

import json

import pytest
import requests
from django.core.exceptions import ValidationError

from participants import services
from participants.models import AuditEvent, OperationalStatus, Participant, ParticipantState, ReviewStatus, Role
from tests.browser import chromium_page, shown_field
from tests.keys import public_pem, rsa_key
from tests.participants.test_admin_browser import log_in
from tests.servers import access_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def admin_url(live_server, path):
    return f"{live_server.url}/admin/participants/{path}"


def run_action(page, live_server, chosen, action, changelist="participant/?state=all"):
    """Tick `chosen` in a changelist and run one of its actions, as an operator does."""
    page.goto(admin_url(live_server, changelist))
    page.check(f"input[name=_selected_action][value='{chosen.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def api_get(live_server, credentials, path):
    token = access_token(live_server.url, credentials)
    return requests.get(f"{live_server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def token_status(live_server, client_id, client_secret):
    return requests.post(
        f"{live_server.url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=10,
    ).status_code


def onboarded(actor, name, role=Role.LENDER, **extra):
    """A participant onboarded through the services; its key and base URL are its own."""
    slug = "-".join(name.lower().split())
    return services.onboard_participant(
        org_name=name,
        role=role,
        base_url=f"https://{slug}.example.in/ocen",
        public_key=extra.pop("public_key", None) or public_pem(rsa_key(name)),
        actor=actor,
        **extra,
    )


def under_review(actor, name="Udyam Loan Agent", role=Role.LOAN_AGENT, settings=None):
    settings.OCEN_FOUR_EYES = True
    return onboarded(actor, name, role)


def fill_onboarding(page, live_server, name, role, key_text):
    """The onboarding form, filled as an operator types it (send_onboarding sends it)."""
    page.goto(admin_url(live_server, "participant/add/"))
    page.fill("#id_new_organisation_name", name)
    page.select_option("#id_role", role)
    page.fill("#id_base_url", f"https://{'-'.join(name.lower().split())}.example.in/ocen")
    page.fill("#id_public_key", key_text)


def send_onboarding(page):
    page.click("input[type=submit][value='Onboard and issue credentials']")


def test_the_reason_typed_when_rotating_a_secret_is_in_the_audit_trail(live_server, registry_admin, lender):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        run_action(page, live_server, lender.participant, "rotate_secret")
        page.fill("#id_reason", "laptop with the secret was stolen")
        page.click("input[type=submit][value='Yes, issue new secrets']")
        page.wait_for_selector("code.client-secret")

    rotated = AuditEvent.objects.get(action="participant.secret_rotated", participant=lender.participant)
    assert rotated.details["reason"] == "laptop with the secret was stolen"


def test_a_rejected_application_stays_rejected_and_gets_no_tokens(
    live_server, registry_admin, second_admin, actor, settings
):
    application = under_review(actor, settings=settings)
    services.reject_participant(participant=application.participant, actor=actor, reason="licence not shown")
    with chromium_page() as page:
        log_in(page, live_server.url, "vikram")
        run_action(page, live_server, application.participant, "approve")
        page.wait_for_selector(".messagelist")
        assert "rejected" in page.inner_text(".messagelist").lower()

    participant = Participant.objects.get(pk=application.participant.pk)
    assert participant.review_status == ReviewStatus.REJECTED and participant.approved_by is None
    assert not AuditEvent.objects.filter(action="participant.approved", participant=participant).exists()
    assert token_status(live_server, participant.client_id, application.client_secret) == 401


def test_existing_network_members_are_shown_not_offered_for_editing(live_server, registry_admin, network):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"productnetwork/{network.pk}/change/"))
        rows = page.locator("#memberships-group tbody.original tr.form-row")
        assert rows.count() == 2  # the loan agent and the lender, added at creation
        assert rows.locator("select").count() == 0, "an existing member's participant or role looks editable"
        assert "Bharat Lending Bank" in page.inner_text("#memberships-group")


def test_a_member_is_listed_in_its_own_role(live_server, registry_admin, actor, network, lender):
    partner = onboarded(actor, "Rupee Disbursals", Role.DISBURSEMENT_PARTNER).participant
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"productnetwork/{network.pk}/change/"))
        new_row = "#memberships-group tbody.template:not(.empty-form) tr.form-row"
        assert page.locator(f"{new_row} select[name$='-role']").count() == 0, "a role other than its own is offered"
        page.select_option(f"{new_row} select[name$='-participant']", str(partner.pk))
        page.click("[name=_save]")
        page.wait_for_selector("text=was changed successfully")

    listing = api_get(live_server, lender, f"/service/product-networks/{network.pk}/participants").json()
    listed = {role: [p["id"] for p in members] for role, members in listing.items()}
    assert str(partner.pk) in listed["DISBURSEMENT_PARTNER"]
    assert [role for role, ids in listed.items() if str(partner.pk) in ids] == ["DISBURSEMENT_PARTNER"]


def test_a_member_role_other_than_the_participants_own_is_refused(actor, network, kyc_partner):
    with pytest.raises(ValidationError, match="own role"):
        services.add_network_member(
            network=network, participant=kyc_partner.participant, role=Role.REGULATOR, actor=actor
        )


def test_offboarding_a_lender_says_which_products_and_networks_go_and_audits_each_withdrawal(
    live_server, registry_admin, lender, product, network
):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/change/"))
        page.click("a.offboard-link")
        plan = page.inner_text(".offboard-plan")
        assert "Working Capital 90" in plan and "MSME Credit Line" in plan
        assert "Udyam Loan Agent" in plan  # the network's other participants stop seeing the product listed
        page.fill("#id_reason", "licence cancelled")
        page.fill("#id_confirm_name", "Bharat Lending Bank")
        page.click("input[type=submit][value='Yes, offboard']")
        page.wait_for_selector("text=Offboarded: Bharat Lending Bank")

    withdrawn = AuditEvent.objects.get(action="product.withdrawn")
    assert (
        withdrawn.details["product"]["productId"] == str(product.pk)
        and withdrawn.details["reason"] == "licence cancelled"
    )


@pytest.mark.parametrize("action", ["suspend", "reject"])
def test_suspending_and_rejecting_ask_for_a_reason_and_a_confirmation(
    live_server, registry_admin, actor, settings, action
):
    if action == "suspend":
        participant = onboarded(actor, "Bharat Lending Bank").participant
    else:
        participant = under_review(actor, settings=settings).participant
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        run_action(page, live_server, participant, action)
        page.wait_for_selector("#id_reason")  # a confirmation page, not an immediate change
        assert Participant.objects.get(pk=participant.pk).status_reason == ""
        page.click("input[type=submit][name=confirm]")
        page.wait_for_selector(".errorlist")  # a reason is required
        page.fill("#id_reason", "regulator's order")
        page.click("input[type=submit][name=confirm]")
        page.wait_for_selector(".messagelist")

    participant.refresh_from_db()
    done = {"suspend": "participant.suspended", "reject": "participant.rejected"}[action]
    assert AuditEvent.objects.get(action=done, participant=participant).details["reason"] == "regulator's order"
    assert participant.status_reason == "regulator's order"
    if action == "suspend":
        assert participant.status == OperationalStatus.SUSPENDED
    else:
        assert participant.review_status == ReviewStatus.REJECTED


def test_the_list_shows_one_state_that_is_what_the_registry_does(live_server, registry_admin, actor, settings, lender):
    waiting = under_review(actor, settings=settings).participant
    rejected = under_review(actor, name="Refused Finance", role=Role.LENDER, settings=settings).participant
    services.reject_participant(participant=rejected, actor=actor, reason="no licence")
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "participant/"))

        def state_of(participant):
            return page.inner_text(f"tr:has(input[value='{participant.pk}']) td.field-state")

        assert state_of(waiting) == "Under review"
        assert state_of(rejected) == "Rejected"
        assert state_of(lender.participant) == "Active"

        page.goto(admin_url(live_server, f"participant/{rejected.pk}/change/"))
        tools = page.inner_text(".registry-cockpit .operations")
        assert "Add key" not in tools and "Rotate client secret" not in tools and "Offboard" not in tools


def test_lists_fit_a_1280_pixel_screen_one_line_per_row(live_server, registry_admin, actor, lender, loan_agent):
    services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("second")), actor=actor)
    services.onboard_participant(  # the longest name, without a space to break at
        org_name="W" * 200,
        role=Role.LENDER,
        base_url="https://long-name.example.in/ocen",
        public_key=public_pem(rsa_key("W" * 200)),
        actor=actor,
        pending=ReviewStatus.APPLIED,
    )
    with chromium_page() as page:  # a 1280 by 900 viewport, tests/browser.py
        log_in(page, live_server.url, "asha")
        page.goto(f"{live_server.url}/admin/")  # the review queue names it
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the dashboard"
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/add-key/"))
        page.fill("#id_public_key", public_pem(rsa_key("W" * 200)).decode())  # its key: the refusal names it
        page.click("input[type=submit][value='Add key']")
        page.wait_for_selector(".errorlist")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "a refusal"
        for changelist in ("participant/", "participantkey/", "auditevent/"):
            page.goto(admin_url(live_server, changelist))
            table = page.locator("#result_list")
            fits = table.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")
            page_fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert fits and page_fits, f"{changelist} overflows at 1280 px"
            line = table.locator("tbody tr td").first.evaluate("td => parseFloat(getComputedStyle(td).lineHeight)")
            heights = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
            assert heights and max(heights) < 3 * line, f"{changelist}: a row wraps onto several lines ({heights})"


def test_a_keys_page_is_a_record_with_nothing_to_save(live_server, registry_admin, lender, admin_client):
    from django.contrib.admin.models import LogEntry

    key = lender.participant.keys.get()
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"participantkey/{key.pk}/change/"))
        assert key.kid in page.inner_text("#content")
        assert page.locator("[name=_save], [name=_continue]").count() == 0

    forged = admin_client.post(f"/admin/participants/participantkey/{key.pk}/change/", {})
    assert forged.status_code == 403 and not LogEntry.objects.exists()


def test_the_timeline_shows_who_did_what_when_and_why(live_server, registry_admin, actor, lender):
    services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
    services.reinstate_participant(participant=lender.participant, actor=actor)
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/change/"))
        page.click(".registry-cockpit a:has-text('Timeline')")
        timeline = page.inner_text("#content")

    events = AuditEvent.objects.filter(participant=lender.participant).order_by("at")
    assert [e.action for e in events] == ["participant.onboarded", "participant.suspended", "participant.reinstated"]
    for event in events:
        assert event.action in timeline
    assert "regulator's order" in timeline and "asha" in timeline
    assert timeline.index("participant.reinstated") < timeline.index("participant.onboarded")  # newest first


def test_every_page_has_an_icon_and_no_view_site_loop(live_server, registry_admin):
    icon = requests.get(f"{live_server.url}/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/")
    with chromium_page() as page:
        missing = []
        page.on("response", lambda response: response.status == 404 and missing.append(response.url))
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "participant/"))
        assert page.locator("a:has-text('View site')").count() == 0
        page.goto(f"{live_server.url}/admin/")
        assert "axes" not in page.inner_text("#main").lower()  # no raw lockout tables on the index
    assert missing == []


def test_messages_show_key_ids_as_they_are(live_server, registry_admin, actor, lender):
    from jwcrypto import jwk

    from tests.keys import rsa_key

    public = jwk.JWK.from_pyca(rsa_key("lower-case kid").public_key()).export_public(as_dict=True)
    key = services.add_participant_key(
        participant=lender.participant, public_key=json.dumps({**public, "kid": "n8--s1qG-lower"}).encode(), actor=actor
    )
    services.revoke_key(key=key, actor=actor, reason="compromised")
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        run_action(page, live_server, key, "retire", changelist="participantkey/")
        message = page.inner_text(".messagelist")

    assert message.strip().startswith("n8--s1qG-lower"), (
        message
    )  # a revoked key cannot be retired: the refusal names it


def test_a_refused_private_key_is_not_shown_back(live_server, registry_admin):
    from tests.keys import private_pem

    private = private_pem(rsa_key("pasted by mistake")).decode()
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "Careless Bank", "LENDER", private)
        send_onboarding(page)
        page.wait_for_selector("text=private key material")
        html, organisation = page.content(), page.input_value("#id_new_organisation_name")

    assert "PRIVATE KEY" not in html and private.splitlines()[1] not in html
    assert organisation == "Careless Bank"  # the rest of the form stays as typed


def test_search_finds_what_the_console_shows(live_server, registry_admin, actor, lender, loan_agent):
    from participants.keys import format_fingerprint

    participant, key = lender.participant, lender.participant.keys.get()

    def search(page, path, term):
        page.goto(admin_url(live_server, path))
        page.fill("#searchbar", term)
        page.press("#searchbar", "Enter")
        page.wait_for_load_state()
        if not page.locator("#result_list").count():
            return ""
        # What the rows say, and the whole IDs their copy buttons hold (the cells show them shortened).
        copied = page.locator("#result_list [data-copy]").evaluate_all("buttons => buttons.map(b => b.dataset.copy)")
        return " ".join([page.inner_text("#result_list"), *copied])

    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        shown = format_fingerprint(key.fingerprint)[:23]  # as the key list shows it, "7E:8C:…"
        assert key.kid in search(page, "participantkey/", shown)
        for term in (participant.client_id[:12], str(participant.pk)[:8], "lender.example.in"):
            found = search(page, "participant/", term)
            assert "Bharat Lending Bank" in found and "Udyam Loan Agent" not in found, term
        for term in ("Bharat Lending", participant.client_id):
            assert "Participant onboarded" in search(page, "auditevent/", term), term


def test_sorting_is_what_the_headers_say(live_server, registry_admin, actor, lender):
    import datetime as dt

    from django.utils import timezone

    from tests.keys import certificate_pem

    now, private = timezone.now(), rsa_key("expiring")
    certificate = certificate_pem(private, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=20))
    expiring = onboarded(actor, "Zenith Finance", public_key=certificate).participant  # last by name, first by expiry
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "participant/"))
        sorted_headers = page.locator("#result_list thead th.sorted").all_inner_texts()
        rows = [row.strip() for row in page.locator("#result_list tbody tr").all_inner_texts()]
        assert "ORGANISATION" in sorted_headers[0].upper() and rows[0].startswith("Bharat Lending Bank")

        page.click("#result_list thead th.column-key_expiry a")  # nearest key expiry, ascending
        page.wait_for_load_state()
        rows = [row.strip() for row in page.locator("#result_list tbody tr").all_inner_texts()]
        assert rows[0].startswith(expiring.organisation.name) and rows[-1].startswith("Bharat Lending Bank")


def test_a_new_organisation_named_like_an_existing_one_is_refused_not_merged(live_server, registry_admin, lender):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "bharat lending bank ", "LOAN_AGENT", public_pem(rsa_key("x")).decode())
        send_onboarding(page)
        page.wait_for_selector(".errorlist")
        errors = page.inner_text(".errorlist")

    assert "“Bharat Lending Bank” already exists" in errors
    assert Participant.objects.count() == 1


def test_every_confirmation_has_a_way_back(live_server, registry_admin, lender):
    key = lender.participant.keys.get()
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        run_action(page, live_server, key, "revoke", changelist="participantkey/")
        page.click("a.cancel-link")
        page.wait_for_selector("#result_list")

    key.refresh_from_db()
    assert key.status == "ACTIVE"


def test_an_application_received_is_applied_then_under_review_then_decided(live_server, registry_admin):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "Emailed Finance", "LENDER", public_pem(rsa_key("emailed")).decode())
        page.check("#id_as_application")
        send_onboarding(page)
        participant = Participant.objects.get(pk=page.inner_text("code.participant-id"))
        secret = page.inner_text("code.client-secret")
        assert participant.review_status == ReviewStatus.APPLIED
        assert token_status(live_server, participant.client_id, secret) == 401

        run_action(page, live_server, participant, "approve")
        assert "start its review first" in page.inner_text(".messagelist")
        run_action(page, live_server, participant, "start_review")
        assert page.inner_text(f"tr:has(input[value='{participant.pk}']) td.field-state") == "Under review"
        run_action(page, live_server, participant, "approve")
        page.wait_for_selector("text=Approved 1 participant")

    assert token_status(live_server, participant.client_id, secret) == 200
    actions = list(AuditEvent.objects.filter(participant=participant).order_by("at").values_list("action", flat=True))
    assert actions == ["participant.onboarded", "participant.review_started", "participant.approved"]


def test_a_bulk_confirmation_carries_its_choice_in_the_body_and_leaves_out_what_would_be_refused(
    live_server, registry_admin, actor, settings, lender, loan_agent
):
    rejected = under_review(actor, name="Refused Finance", role=Role.LENDER, settings=settings).participant
    services.reject_participant(participant=rejected, actor=actor, reason="no licence")
    chosen = [lender.participant, loan_agent.participant, rejected]
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "participant/?state=all"))
        for participant in chosen:
            page.check(f"input[name=_selected_action][value='{participant.pk}']")
        page.select_option("select[name=action]", "suspend")
        page.click("button[name=index]")
        page.wait_for_selector("#id_reason")
        assert "ids=" not in page.url  # any number of participants: a proxy's request-line limit never applies
        assert "Refused Finance" in page.inner_text(".left-out")
        page.fill("#id_reason", "network-wide incident")
        page.click("input[type=submit][value='Yes, suspend']")
        page.wait_for_selector(".messagelist")

    states = {p.pk: Participant.objects.get(pk=p.pk).state for p in chosen}
    assert states == {
        lender.participant.pk: ParticipantState.SUSPENDED,
        loan_agent.participant.pk: ParticipantState.SUSPENDED,
        rejected.pk: ParticipantState.REJECTED,
    }


def test_audit_times_are_in_one_named_zone(live_server, registry_admin, lender):
    from django.utils import timezone

    event = AuditEvent.objects.get(action="participant.onboarded")
    shown = timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S %Z")
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "auditevent/"))
        listed = page.inner_text("#result_list tbody tr:has-text('Participant onboarded') .field-when")
        page.goto(admin_url(live_server, f"auditevent/{event.pk}/change/"))
        detail = shown_field(page, "When")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/change/"))
        created = shown_field(page, "Created at")
        key = lender.participant.keys.get()
        page.goto(admin_url(live_server, f"participantkey/{key.pk}/change/"))
        key_created = shown_field(page, "Created at")

    assert listed == detail == shown and shown.endswith(" IST")
    assert created == timezone.localtime(lender.participant.created_at).strftime("%Y-%m-%d %H:%M:%S IST")
    assert key_created == timezone.localtime(key.created_at).strftime("%Y-%m-%d %H:%M:%S IST")


def test_a_new_network_says_its_founders_join_automatically(live_server, registry_admin, product, loan_agent, lender):
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "productnetwork/add/"))
        page.fill("#id_name", "Founders Net")
        page.select_option("#id_product", str(product.pk))
        page.select_option("#id_created_by", str(loan_agent.participant.pk))
        page.select_option("#id_memberships-0-participant", str(lender.participant.pk))  # the lender, again
        added = page.inner_text("#memberships-group tbody.template:not(.empty-form) td.field-added")
        assert not any(ch.isdigit() for ch in added), f"a blank member row shows an 'Added at' time: {added}"
        page.click("[name=_save]")
        page.wait_for_selector("text=was added successfully")
        messages_shown = page.inner_text(".messagelist")

    assert "join it automatically when it is created" in messages_shown and "already" in messages_shown


def test_show_counts_counts_every_state(live_server, registry_admin, actor, settings, lender, loan_agent):
    services.suspend_participant(participant=loan_agent.participant, actor=actor, reason="x")
    under_review(actor, name="Pending Finance", role=Role.LENDER, settings=settings)
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "participant/?_facets=True"))
        filters = page.inner_text("#changelist-filter")

    for shown in ("Current (not offboarded) (3)", "Active (1)", "Suspended (1)", "Under review (1)", "Rejected (0)"):
        assert shown in filters, filters


def test_a_refusal_is_a_console_page_and_viewers_get_no_links_to_refusals(live_server, registry_viewer, lender):
    with chromium_page() as page:
        log_in(page, live_server.url, "meera")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/change/"))
        assert page.locator("#content a[href*='/admin/auth/user/']").count() == 0
        assert "asha" in shown_field(page, "Recorded by")
        response = page.goto(f"{live_server.url}/admin/auth/user/{lender.participant.recorded_by_id}/change/")
        refusal = page.inner_text("#content-main")

    assert response.status == 403
    assert "signed in as meera" in refusal and "Back to the console" in refusal


@pytest.mark.parametrize("genuine", [True, False], ids=["verifies", "does-not"])
def test_the_signature_check_verdict_is_plain_and_coloured_by_its_outcome(live_server, registry_admin, lender, genuine):
    from ocen_sdk import sign

    body = json.dumps({"metadata": {"originatorParticipantId": str(lender.participant.pk)}})
    kid = lender.participant.keys.get().kid
    signature = sign(body.encode(), rsa_key("lender" if genuine else "someone else"), kid)
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/signature-check/"))
        page.fill("#id_body", body)
        page.fill("#id_signature", signature)
        page.click("input[type=submit][value='Check']")
        verdict = page.locator("h2.verdict")
        text, colour = verdict.inner_text(), verdict.evaluate("e => getComputedStyle(e).backgroundColor")

    if genuine:
        assert text.startswith("✔ Verifies") and colour == "rgb(46, 125, 50)"
    else:
        assert "no usable key verifies it over these exact bytes" in text and colour == "rgb(186, 33, 33)"


def test_a_refused_form_asks_for_the_attached_key_file_again(live_server, registry_admin, tmp_path):
    key_file = tmp_path / "lender-public.pem"
    key_file.write_bytes(public_pem(rsa_key("uploaded")))
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "Upload Bank", "LENDER", "")
        page.fill("#id_base_url", "ftp://upload.example.in")  # refused: not https
        page.set_input_files("#id_public_key_file", str(key_file))
        send_onboarding(page)
        page.wait_for_selector(".errorlist")
        errors = page.inner_text("#content-main")

    assert "Attach lender-public.pem again" in errors and Participant.objects.count() == 0


def test_a_key_about_to_expire_or_not_yet_valid_is_flagged_when_registered(live_server, registry_admin, lender):
    import datetime as dt

    from django.utils import timezone

    from tests.keys import certificate_pem

    now = timezone.now()
    soon = certificate_pem(
        rsa_key("soon"), not_before=now - dt.timedelta(days=300), not_after=now + dt.timedelta(days=12)
    )
    later = certificate_pem(
        rsa_key("later"), not_before=now + dt.timedelta(days=3), not_after=now + dt.timedelta(days=400)
    )
    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        fill_onboarding(page, live_server, "Short Notice Finance", "LENDER", soon.decode())
        send_onboarding(page)
        page.wait_for_selector("code.client-secret")
        expiring = page.inner_text(".messagelist")
        page.goto(admin_url(live_server, f"participant/{lender.participant.pk}/add-key/"))
        page.fill("#id_public_key", later.decode())
        page.click("input[type=submit][value='Add key']")
        page.wait_for_selector(".messagelist")
        early = page.inner_text(".messagelist")

    assert "certificate expires on" in expiring and any(f"in {days} days" in expiring for days in (11, 12))
    assert "not valid until" in early and "refused until then" in early
    key = lender.participant.keys.get(valid_from__gt=now)
    assert key.unusable_at(timezone.now()) is not None  # what the warning says: it does not verify yet


def test_a_lenders_products_are_told_apart_by_name_and_names_are_never_cut(
    live_server, registry_admin, product, loan_agent
):
    from participants.models import Product

    with chromium_page() as page:
        log_in(page, live_server.url, "asha")
        page.goto(admin_url(live_server, "product/add/"))
        page.select_option("#id_lender", str(product.lender_id))
        page.fill("#id_name", "working capital 90")  # the same name, another case
        page.click("[name=_save]")
        page.wait_for_selector("text=already has a product of that name")
        page.fill("#id_name", "A" * 36)  # one past the field's 35: refused, not cut by the browser
        page.click("[name=_save]")
        page.wait_for_selector("text=at most 35 characters")
        page.goto(admin_url(live_server, "productnetwork/add/"))
        offered = page.locator("#id_product option").all_inner_texts()

    assert list(Product.objects.values_list("name", flat=True)) == ["Working Capital 90"]
    assert "Working Capital 90 — Bharat Lending Bank" in offered  # the picker names the lender too
