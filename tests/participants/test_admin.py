"""The admin console (contract §3) through Django's test client: onboarding, show-once, actions, permissions."""

import datetime as dt
import json
import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import Application

from participants import services
from participants.models import (
    AuditEvent,
    KeyStatus,
    OperationalStatus,
    Organisation,
    Participant,
    ParticipantKey,
    ReviewStatus,
    primary_key,
)
from tests.conftest import make_staff
from tests.dot import dot_token_request
from tests.keys import jpeg, png, private_pem, public_pem, reference_key_set, rsa_key

CHANGELIST = reverse("admin:participants_participant_changelist")
ADD = reverse("admin:participants_participant_add")
CREDENTIALS = reverse("admin:participants_participant_credentials")


def confirm_url(operation, *participants):
    ids = ",".join(str(p.pk) for p in participants)
    return reverse("admin:participants_participant_confirm", args=[operation]) + f"?ids={ids}"


@pytest.fixture
def admin_client(client, registry_admin):
    client.force_login(registry_admin)
    return client


def onboarding_data(**overrides):
    return {
        "organisation": "",
        "new_organisation_name": "Bharat Lending Bank",
        "role": "LENDER",
        "base_url": "https://lender.example.in/ocen",
        "public_key": public_pem(rsa_key("lender")).decode(),
        **overrides,
    }


def secret_on(page: str) -> str:
    match = re.search(r'<code class="client-secret">([^<]+)</code>', page)
    return match.group(1) if match else ""


def test_onboarding_form_creates_everything_and_shows_the_secret_once(admin_client):
    response = admin_client.post(ADD, onboarding_data(), follow=True)
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    page = response.content.decode()
    participant = Participant.objects.select_related("application").get()
    secret = secret_on(page)
    assert str(participant.id) in page and participant.client_id in page
    assert "Copy the client secret now" in page
    # The secret shown is the real one: django-oauth-toolkit accepts it.
    assert dot_token_request(participant.client_id, secret)[0] == 200
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]

    again = admin_client.get(CREDENTIALS).content.decode()
    assert secret not in again and "There is no secret to show" in again


def test_secret_never_appears_on_the_participant_page(admin_client):
    response = admin_client.post(ADD, onboarding_data(), follow=True)
    secret = secret_on(response.content.decode())
    participant = Participant.objects.get()
    for url in (
        reverse("admin:participants_participant_change", args=[participant.pk]),
        CHANGELIST,
        reverse("admin:participants_auditevent_changelist"),
        reverse("admin:participants_auditevent_change", args=[AuditEvent.objects.last().pk]),
    ):
        assert secret not in admin_client.get(url).content.decode()


def test_the_key_can_be_uploaded_as_a_file(admin_client):
    upload = SimpleUploadedFile("lender.json", json.dumps({"keys": [reference_key_set()["keys"][0]]}).encode())
    response = admin_client.post(ADD, onboarding_data(public_key="", public_key_file=upload))
    assert response.status_code == 200  # refused: the reference set holds a private key
    assert "contains private key material" in response.content.decode()
    upload = SimpleUploadedFile("lender.pem", public_pem(rsa_key("lender")))
    response = admin_client.post(ADD, onboarding_data(public_key="", public_key_file=upload))
    assert response.status_code == 302 and Participant.objects.count() == 1


def test_onboarding_into_an_existing_organisation(admin_client, lender):
    org = lender.participant.organisation
    response = admin_client.post(
        ADD,
        onboarding_data(
            organisation=str(org.pk),
            new_organisation_name="",
            role="LOAN_AGENT",
            public_key=public_pem(rsa_key("agent")).decode(),
        ),
    )
    assert response.status_code == 302
    assert Organisation.objects.count() == 1 and org.participants.count() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"public_key": private_pem(rsa_key("lender")).decode()}, "contains private key material"),
        ({"public_key": public_pem(rsa_key("short", 1024)).decode()}, "at least 2048 bits"),
        ({"public_key": ""}, "paste it or upload the file"),
        ({"base_url": "http://lender.example.in"}, "must use https"),
        ({"new_organisation_name": ""}, "name a new one"),
        ({"role": "BORROWER"}, "Select a valid choice"),
    ],
)
def test_onboarding_form_errors_are_shown_in_the_form(admin_client, overrides, message):
    response = admin_client.post(ADD, onboarding_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Participant.objects.count() == 0 and Application.objects.count() == 0


def test_duplicate_role_is_refused_in_the_form(admin_client, lender):
    organisation = str(lender.participant.organisation_id)
    data = onboarding_data(
        organisation=organisation, new_organisation_name="", public_key=public_pem(rsa_key("x")).decode()
    )
    response = admin_client.post(ADD, data)
    assert response.status_code == 200 and "already has a Lender participant" in response.content.decode()
    assert Participant.objects.count() == 1


def test_changelist_shows_the_operator_columns(admin_client, lender):
    page = admin_client.get(CHANGELIST).content.decode()
    participant = lender.participant
    for text in (str(participant.id), "Bharat Lending Bank", "Lender", "Active", participant.client_id):
        assert text in page
    assert "no expiry" in page


def test_changelist_hides_offboarded_participants_by_default(admin_client, actor, lender, loan_agent):
    services.offboard_participant(participant=loan_agent.participant, actor=actor)
    default = admin_client.get(CHANGELIST).content.decode()
    assert lender.participant.client_id in default and loan_agent.participant.client_id not in default
    everything = admin_client.get(CHANGELIST + "?state=all").content.decode()
    assert loan_agent.participant.client_id in everything


@pytest.mark.parametrize("term", ["participant_id", "client_id", "organisation"])
def test_changelist_search(admin_client, lender, loan_agent, term):
    value = {
        "participant_id": str(lender.participant.id),
        "client_id": lender.participant.client_id,
        "organisation": "bharat",
    }[term]
    page = admin_client.get(CHANGELIST, {"q": value}).content.decode()
    assert lender.participant.client_id in page and loan_agent.participant.client_id not in page


def test_changelist_query_count_does_not_grow_with_participants(admin_client, actor, django_assert_max_num_queries):
    def onboard_many(start, count):
        for index in range(start, start + count):
            services.onboard_participant(
                org_name=f"Org {index}",
                role="LENDER",
                base_url=f"https://org{index}.example.in",
                public_key=public_pem(rsa_key(f"bulk-{index}")),
                actor=actor,
            )

    onboard_many(0, 2)
    admin_client.get("/admin/")  # a session's first console request records it (the sessions page)
    # 9, and one statement asking whether this (unverified) operator has a second factor
    with django_assert_max_num_queries(10) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    onboard_many(2, 12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get(CHANGELIST).status_code == 200


def test_a_participants_page_costs_the_same_queries_however_many_keys_it_has(
    admin_client, actor, lender, django_assert_max_num_queries
):
    page = f"/admin/participants/participant/{lender.participant.pk}/change/"

    def add_keys(count):
        for index in range(count):
            services.add_participant_key(
                participant=lender.participant, public_key=public_pem(rsa_key(f"many-{count}-{index}")), actor=actor
            )

    add_keys(1)
    admin_client.get("/admin/")  # a session's first console request records it (the sessions page)
    with django_assert_max_num_queries(21) as few:  # 20, and the second-factor check of an unverified session
        assert admin_client.get(page).status_code == 200
    add_keys(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get(page).status_code == 200


def test_admin_actions_approve_suspend_reinstate(admin_client, second_admin, lender):
    participant = lender.participant

    def act(action):
        return admin_client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [participant.pk]}, follow=True)

    assert "Each participant below stops authenticating at once" in act("suspend").content.decode()
    assert Participant.objects.get().status == OperationalStatus.ACTIVE  # not until confirmed, with a reason
    confirmation = {"ids": [participant.pk], "confirmed": "yes", "reason": "regulator's order"}
    done = admin_client.post(confirm_url("suspend", participant), confirmation, follow=True).content.decode()
    assert "Suspended: Bharat Lending Bank" in done
    assert Participant.objects.get().status == OperationalStatus.SUSPENDED
    assert dot_token_request(participant.client_id, lender.client_secret)[0] == 401
    assert "Reinstated 1 participant" in act("reinstate").content.decode()
    assert Participant.objects.get().status == OperationalStatus.ACTIVE
    assert dot_token_request(participant.client_id, lender.client_secret)[0] == 200
    assert "already approved" in act("approve").content.decode()


@override_settings(OCEN_FOUR_EYES=True)
def test_four_eyes_in_the_admin(client, registry_admin, second_admin):
    client.force_login(registry_admin)
    client.post(ADD, onboarding_data())
    participant = Participant.objects.get()
    assert participant.review_status == ReviewStatus.UNDER_REVIEW
    data = {"action": "approve", ACTION_CHECKBOX_NAME: [participant.pk]}
    assert "cannot approve it" in client.post(CHANGELIST, data, follow=True).content.decode()
    client.force_login(second_admin)
    assert "Approved 1 participant" in client.post(CHANGELIST, data, follow=True).content.decode()
    assert Participant.objects.get().review_status == ReviewStatus.APPROVED


@override_settings(OCEN_FOUR_EYES=True)
def test_reject_action(admin_client):
    admin_client.post(ADD, onboarding_data())
    participant = Participant.objects.get()
    admin_client.post(CHANGELIST, {"action": "reject", ACTION_CHECKBOX_NAME: [participant.pk]})
    assert Participant.objects.get().review_status == ReviewStatus.UNDER_REVIEW  # a confirmation page first
    refused = admin_client.post(confirm_url("reject", participant), {"ids": [participant.pk], "confirmed": "yes"})
    assert "This field is required" in refused.content.decode()  # the reason
    admin_client.post(
        confirm_url("reject", participant), {"ids": [participant.pk], "confirmed": "yes", "reason": "no licence"}
    )
    assert Participant.objects.get().review_status == ReviewStatus.REJECTED
    assert Participant.objects.get().status_reason == "no licence"


def test_rotate_secret_through_confirmation_shows_the_new_secret_once(admin_client, lender):
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_secret", ACTION_CHECKBOX_NAME: [lender.participant.pk]}, follow=True
    )
    assert "A new client secret will be issued" in response.content.decode()
    response = admin_client.post(
        confirm_url("rotate_secret", lender.participant),
        {"ids": [lender.participant.pk], "confirmed": "yes"},
        follow=True,
    )
    new_secret = secret_on(response.content.decode())
    assert new_secret and new_secret != lender.client_secret
    assert dot_token_request(lender.participant.client_id, new_secret)[0] == 200
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 401
    assert new_secret not in admin_client.get(CREDENTIALS).content.decode()


def test_onboarding_key_only_in_the_admin_shows_no_secret_and_says_how_it_authenticates(admin_client):
    page = admin_client.post(ADD, onboarding_data(key_only="on"), follow=True).content.decode()
    participant = Participant.objects.get()
    assert secret_on(page) == "" and "Copy the client secret now" not in page and "Key only" in page
    assert participant.key_only
    change = admin_client.get(reverse("admin:participants_participant_change", args=[participant.pk]))
    assert "private_key_jwt (key only: no client secret since" in change.content.decode()


def test_withdrawing_a_secret_in_the_admin_asks_for_a_reason_and_stops_the_secret(admin_client, lender):
    admin_client.post(CHANGELIST, {"action": "withdraw_secret", ACTION_CHECKBOX_NAME: [lender.participant.pk]})
    url = confirm_url("withdraw_secret", lender.participant)
    assert "stops working at once, for good" in admin_client.get(url).content.decode()
    unexplained = admin_client.post(url, {"ids": [lender.participant.pk], "confirmed": "yes", "reason": ""})
    assert unexplained.status_code == 200 and not Participant.objects.get().key_only  # a reason is required
    admin_client.post(url, {"ids": [lender.participant.pk], "confirmed": "yes", "reason": "moving to keys"})
    assert Participant.objects.get().key_only
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 401
    event = AuditEvent.objects.get(action="participant.secret_withdrawn")
    assert event.details["reason"] == "moving to keys" and event.actor_user.username == "asha"
    change = admin_client.get(reverse("admin:participants_participant_change", args=[lender.participant.pk]))
    assert "client_secret_basic" not in change.content.decode()


def test_offboard_confirmation_page_lists_what_will_happen(admin_client, lender):
    dot_token_request(lender.participant.client_id, lender.client_secret)
    page = admin_client.get(confirm_url("offboard", lender.participant)).content.decode()
    kid = lender.participant.keys.get().kid
    for text in (lender.participant.client_id, "Revoke its 1 issued access token", kid, "memberships", "OFFBOARDED"):
        assert text in page
    assert Participant.objects.get().status == OperationalStatus.ACTIVE  # nothing happened yet


def test_offboarding_in_the_admin(admin_client, lender):
    url = confirm_url("offboard", lender.participant)
    missing_reason = admin_client.post(url, {"ids": [lender.participant.pk], "confirmed": "yes", "reason": ""})
    assert missing_reason.status_code == 200 and "This field is required" in missing_reason.content.decode()
    assert Participant.objects.get().status == OperationalStatus.ACTIVE
    form = {"ids": [lender.participant.pk], "confirmed": "yes", "reason": "licence cancelled"}
    misnamed = admin_client.post(url, {**form, "confirm_name": "Bharat Lending"})
    assert misnamed.status_code == 200 and "exactly, to confirm" in misnamed.content.decode()
    assert Participant.objects.get().status == OperationalStatus.ACTIVE  # one participant: type its name
    response = admin_client.post(url, {**form, "confirm_name": "Bharat Lending Bank"}, follow=True)
    assert "Offboarded: Bharat Lending Bank" in response.content.decode()
    participant = Participant.objects.get()
    assert participant.status == OperationalStatus.OFFBOARDED and participant.application is None
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 401
    assert AuditEvent.objects.get(action="participant.offboarded").remote_addr == "127.0.0.1"


def test_add_key_and_revoke_key_in_the_admin(admin_client, lender):
    participant = lender.participant
    add_key = reverse("admin:participants_participant_add_key", args=[participant.pk])
    response = admin_client.post(add_key, {"public_key": public_pem(rsa_key("lender-2")).decode()})
    assert response.status_code == 302 and participant.keys.count() == 2
    assert (
        "private key material"
        in admin_client.post(add_key, {"public_key": private_pem(rsa_key("z")).decode()}).content.decode()
    )

    primary, added = participant.keys.order_by("created_at")
    keys_changelist = reverse("admin:participants_participantkey_changelist")
    confirm = admin_client.post(keys_changelist, {"action": "revoke", ACTION_CHECKBOX_NAME: [added.pk]})
    assert (
        "Yes, revoke" in confirm.content.decode() and ParticipantKey.objects.get(pk=added.pk).status == KeyStatus.ACTIVE
    )
    admin_client.post(
        keys_changelist,
        {"action": "revoke", ACTION_CHECKBOX_NAME: [added.pk], "confirmed": "yes", "reason": "leaked"},
    )
    revoked = ParticipantKey.objects.get(pk=added.pk)
    assert revoked.status == KeyStatus.REVOKED and revoked.revocation_reason == "leaked"
    # The primary key goes only with a successor, chosen on its own page: the bulk action is refused.
    refused = admin_client.post(
        keys_changelist,
        {"action": "revoke", ACTION_CHECKBOX_NAME: [primary.pk], "confirmed": "yes", "reason": "leaked"},
        follow=True,
    )
    assert "primary key (publicKey)" in refused.content.decode()
    assert ParticipantKey.objects.get(pk=primary.pk).status == KeyStatus.ACTIVE


def test_revoking_the_primary_key_in_the_console_names_its_successor_in_the_same_operation(admin_client, actor, lender):
    participant = lender.participant
    primary = participant.keys.get()
    change = reverse("admin:participants_participant_change", args=[participant.pk])
    revoke = reverse("admin:participants_participantkey_revoke", args=[primary.pk])
    assert admin_client.get(revoke).status_code == 302  # no key could take its place: no page, no button
    assert revoke not in admin_client.get(change).content.decode()

    spare = services.add_participant_key(participant=participant, public_key=public_pem(rsa_key("sp")), actor=actor)
    page = admin_client.get(revoke).content.decode()
    assert "Primary key from now on" in page and spare.kid in page
    unnamed = admin_client.post(revoke, {"reason": "leaked"})
    assert unnamed.status_code == 200 and ParticipantKey.objects.get(pk=primary.pk).status == KeyStatus.ACTIVE
    admin_client.post(revoke, {"reason": "leaked", "successor": spare.kid})
    assert ParticipantKey.objects.get(pk=primary.pk).status == KeyStatus.REVOKED
    assert primary_key(list(participant.keys.all()), timezone.now()).kid == spare.kid


def test_the_key_table_says_whether_a_verifier_accepts_each_key_now(admin_client, actor, lender):
    participant = lender.participant
    second = services.add_participant_key(participant=participant, public_key=public_pem(rsa_key("l-2")), actor=actor)
    change = reverse("admin:participants_participant_change", args=[participant.pk])

    def verdicts():
        page = admin_client.get(change).content.decode()
        cells = re.findall(r'<td class="[^"]*\bfield-verifies_now\b[^"]*"[^>]*>(.*?)</td>', page, re.S)
        return [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in cells]

    assert verdicts() == ["yes", "yes"]
    services.revoke_key(key=second, actor=actor, reason="leaked")
    assert verdicts() == ["no: revoked", "yes"]  # newest first
    services.suspend_participant(participant=participant, actor=actor, reason="audit")
    assert verdicts() == ["no: revoked", "no: withheld while suspended"]


def test_retire_key_action(admin_client, actor, lender):
    services.add_participant_key(
        participant=lender.participant,
        public_key=public_pem(rsa_key("lender-2")),
        actor=actor,
        primary_from=timezone.now(),
    )
    old = lender.participant.keys.order_by("created_at").first()
    admin_client.post(
        reverse("admin:participants_participantkey_changelist"), {"action": "retire", ACTION_CHECKBOX_NAME: [old.pk]}
    )
    assert ParticipantKey.objects.get(pk=old.pk).status == KeyStatus.RETIRED


def test_base_url_is_edited_through_the_change_form(admin_client, lender):
    url = reverse("admin:participants_participant_change", args=[lender.participant.pk])
    inline = {"keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"}
    bad = admin_client.post(url, {"base_url": "http://lender.in", **inline})
    assert bad.status_code == 200 and "must use https" in bad.content.decode()
    assert admin_client.post(url, {"base_url": "https://api.lender.in/", **inline}).status_code == 302
    assert Participant.objects.get().base_url == "https://api.lender.in"
    assert AuditEvent.objects.filter(action="participant.updated").count() == 1


def test_viewer_can_read_but_not_change_anything(client, registry_viewer, lender):
    client.force_login(registry_viewer)
    participant = lender.participant
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(reverse("admin:participants_participant_change", args=[participant.pk])).status_code == 200
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, onboarding_data(role="LOAN_AGENT")).status_code == 403
    assert client.get(confirm_url("offboard", participant)).status_code == 403
    assert (
        client.post(
            confirm_url("rotate_secret", participant), {"ids": [participant.pk], "confirmed": "yes"}
        ).status_code
        == 403
    )
    for action in ("approve", "suspend", "offboard", "rotate_secret"):
        client.post(CHANGELIST, {"action": action, ACTION_CHECKBOX_NAME: [participant.pk]})
    change = client.post(
        reverse("admin:participants_participant_change", args=[participant.pk]),
        {"base_url": "https://evil.example", "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0"},
    )
    assert change.status_code == 403
    after = Participant.objects.get()
    assert (after.status, after.base_url) == (OperationalStatus.ACTIVE, "https://lender.example.in/ocen")
    assert not AuditEvent.objects.exclude(action__in=["organisation.created", "participant.onboarded"]).exists()


def test_non_staff_users_cannot_reach_the_admin(client, db):
    user = get_user_model().objects.create(username="outsider", is_staff=False)
    client.force_login(user)
    for url in (CHANGELIST, ADD, CREDENTIALS):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_anonymous_users_are_sent_to_login(client, db):
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_staff_without_a_registry_group_sees_nothing(client, db, lender):
    client.force_login(make_staff("nobody", None))
    assert client.get(CHANGELIST).status_code == 403


def test_delete_is_disabled_for_participants_keys_and_audit(admin_client, lender):
    participant = lender.participant
    key = participant.keys.get()
    for url in (
        reverse("admin:participants_participant_delete", args=[participant.pk]),
        reverse("admin:participants_participantkey_delete", args=[key.pk]),
        reverse("admin:participants_auditevent_delete", args=[AuditEvent.objects.first().pk]),
    ):
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Participant.objects.count() == 1 and ParticipantKey.objects.count() == 1


def test_django_oauth_toolkit_tables_are_not_browsable(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Access tokens" not in index and "Applications" not in index
    assert admin_client.get("/admin/oauth2_provider/application/").status_code == 404


def test_audit_events_are_read_only_in_the_admin(admin_client, lender):
    event = AuditEvent.objects.first()
    url = reverse("admin:participants_auditevent_change", args=[event.pk])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"action": "tampered"})
    assert AuditEvent.objects.get(pk=event.pk).action == event.action
    assert admin_client.get(reverse("admin:participants_auditevent_add")).status_code == 403


def test_organisations_are_added_and_edited_through_services(admin_client):
    add = reverse("admin:participants_organisation_add")
    form = {
        "name": "Kaveri Finance",
        "description": "",
        "website": "https://kaveri.example.in",
        "email": "",
        "phone": "",
    }
    inline = {"participants-TOTAL_FORMS": "0", "participants-INITIAL_FORMS": "0"}
    assert admin_client.post(add, {**form, **inline}).status_code == 302
    org = Organisation.objects.get()
    assert AuditEvent.objects.get(action="organisation.created").organisation == org
    duplicate = admin_client.post(add, {**form, "name": "KAVERI FINANCE", **inline})
    assert duplicate.status_code == 200 and Organisation.objects.count() == 1
    assert "already exists" in duplicate.content.decode()
    change = reverse("admin:participants_organisation_change", args=[org.pk])
    assert admin_client.post(change, {**form, "email": "ops@kaveri.example.in", **inline}).status_code == 302
    assert Organisation.objects.get().email == "ops@kaveri.example.in"
    assert AuditEvent.objects.get(action="organisation.updated").details == {
        "changed": {"email": "ops@kaveri.example.in"}
    }


def test_a_key_that_never_expires_does_not_break_the_console(admin_client):
    import datetime as dt

    from tests.keys import certificate_pem

    forever = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    pem = certificate_pem(rsa_key("forever"), not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), not_after=forever)
    assert admin_client.post(ADD, onboarding_data(public_key=pem.decode())).status_code == 302
    participant = Participant.objects.get()
    key = participant.keys.get()
    assert key.valid_until is None  # no end, as RFC 5280 means it
    for url in (
        CHANGELIST,
        reverse("admin:participants_participant_change", args=[participant.pk]),
        reverse("admin:participants_participantkey_changelist"),
        reverse("admin:participants_participantkey_change", args=[key.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "/admin/participants/participant/?state=%00",
        "/admin/participants/participant/?role=%00",
        "/admin/authapi/signingkey/?status=%00",
        "/admin/participants/auditevent/?q=%00",
    ],
)
def test_a_nul_in_a_list_filter_is_a_bad_request_not_a_crash(admin_client, url):
    assert admin_client.get(url).status_code == 400


def test_a_logo_is_uploaded_checked_by_content_and_published(admin_client, lender):
    organisation = lender.participant.organisation
    url = reverse("admin:participants_organisation_change", args=[organisation.pk])
    form = {
        "name": organisation.name,
        "description": "",
        "website": "",
        "email": "",
        "phone": "",
        "participants-TOTAL_FORMS": "0",
        "participants-INITIAL_FORMS": "0",
    }
    svg = SimpleUploadedFile("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/png")
    refused = admin_client.post(url, {**form, "logo_file": svg})
    assert refused.status_code == 200 and "must be a PNG or JPEG" in refused.content.decode()
    looks_like = SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>")
    assert "must be a PNG or JPEG" in admin_client.post(url, {**form, "logo_file": looks_like}).content.decode()
    big = SimpleUploadedFile("logo.jpg", jpeg(padding=70 * 1024), content_type="image/jpeg")
    assert "at most 64 KB" in admin_client.post(url, {**form, "logo_file": big}).content.decode()
    assert (
        admin_client.post(url, {**form, "logo_file": SimpleUploadedFile("x.png", png(padding=65_000))}).status_code
        == 302
    )
    logo = SimpleUploadedFile("anything.bin", jpeg())
    assert admin_client.post(url, {**form, "logo_file": logo}).status_code == 302
    organisation.refresh_from_db()
    assert organisation.logo_content_type == "image/jpeg" and bytes(organisation.logo).startswith(b"\xff\xd8\xff")
    assert AuditEvent.objects.filter(action="organisation.logo_set").count() == 2  # the PNG, then the JPEG
    assert admin_client.post(url, {**form, "remove_logo": "on"}).status_code == 302
    organisation.refresh_from_db()
    assert organisation.logo is None and organisation.logo_content_type == ""


def test_a_key_is_added_for_a_later_switch_and_made_primary_in_the_admin(admin_client, lender):
    from participants.models import primary_key

    participant = lender.participant
    add_key = reverse("admin:participants_participant_add_key", args=[participant.pk])
    when = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post(
        add_key, {"public_key": public_pem(rsa_key("admin-2")).decode(), "switch": "at", "switch_at": when}
    )
    assert response.status_code == 302
    new = participant.keys.order_by("-created_at").first()
    assert new.primary_from is not None and new.primary_from > timezone.now()
    change = admin_client.get(reverse("admin:participants_participant_change", args=[participant.pk])).content.decode()
    assert "primary (publicKey)" in change and "Make primary" in change
    promote = reverse("admin:participants_participantkey_promote", args=[new.pk])
    assert admin_client.post(promote, {"switch": "now"}).status_code == 302
    assert primary_key(list(participant.keys.all()), timezone.now()) == new
    assert AuditEvent.objects.filter(action="key.promoted").exists()


@pytest.mark.parametrize(
    "name",
    [
        "participants_participantkey_promote",
        "participants_participant_add_key",
        "participants_participant_signature_check",
    ],
)
def test_a_custom_page_for_something_that_does_not_exist_is_404(admin_client, name):
    assert admin_client.get(reverse(f"admin:{name}", args=["8b7d8a52-8c1e-4e59-9d55-2a3c9e1f0a11"])).status_code == 404


def test_a_suspended_participant_whose_only_key_expired_cannot_be_made_key_only(admin_client, actor, lender):
    """Withdrawing the secret before reinstating is allowed only with a key that would verify once published: an
    expired one would leave the participant with no way to authenticate at all."""
    participant = lender.participant
    past = timezone.now() - dt.timedelta(days=30)
    ParticipantKey.objects.filter(participant=participant).update(
        valid_from=past, valid_until=past + dt.timedelta(days=1)
    )
    services.suspend_participant(participant=participant, actor=actor, reason="leaked secret")
    participant.refresh_from_db()
    assert "no key that is active and inside its validity" in participant.secret_withdrawal_refused(timezone.now())
    page = admin_client.get(reverse("admin:participants_participant_change", args=[participant.pk])).content.decode()
    assert "Withdraw client secret" not in page and "Reinstate" in page
    with pytest.raises(ValidationError, match="no key that is active"):
        services.withdraw_client_secret(participant=participant, actor=actor, reason="leaked")
    assert not Participant.objects.get(pk=participant.pk).key_only


def test_a_key_operation_the_registry_would_refuse_opens_no_confirmation_page(admin_client, lender):
    """Retire and Make primary on the primary key: the key's own rule says no before any form is shown."""
    key = lender.participant.keys.get()
    why = {"retire": "is the participant&#x27;s only active key", "promote": "is the primary key already"}
    for operation, refusal in why.items():
        response = admin_client.get(reverse(f"admin:participants_participantkey_{operation}", args=[key.pk]))
        assert response.status_code == 302, operation
        assert response.url == reverse("admin:participants_participant_change", args=[lender.participant.pk])
        assert refusal in admin_client.get(response.url).content.decode(), operation
    assert ParticipantKey.objects.get(pk=key.pk).status == "ACTIVE"


def test_reinstating_from_the_list_names_the_chosen_participants_it_leaves_out(admin_client, actor, lender, loan_agent):
    services.suspend_participant(participant=loan_agent.participant, actor=actor, reason="audit")
    chosen = [lender.participant.pk, loan_agent.participant.pk]
    response = admin_client.post(CHANGELIST, {"action": "reinstate", ACTION_CHECKBOX_NAME: chosen}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert any(m.startswith("Left out: ") and "Only a suspended participant can be reinstated." in m for m in said)
    assert "Reinstated 1 participant(s)." in said
    assert Participant.objects.get(pk=loan_agent.participant.pk).can_authenticate
    assert not AuditEvent.objects.filter(action="participant.reinstated", participant=lender.participant).exists()
