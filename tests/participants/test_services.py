"""Registry workflows (contract §3): the state after each, its audit row, and atomicity."""

import datetime as dt
import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.test import override_settings
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
    Role,
    next_primary_switch,
    primary_key,
)
from tests.keys import certificate_pem, ec_key, private_pem, public_pem, reference_public_jwk, rsa_key


def row_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Organisation, Participant, ParticipantKey, Application, AuditEvent)
    }


def onboard(actor, **overrides):
    arguments = {
        "org_name": "Bharat Lending Bank",
        "role": "LENDER",
        "base_url": "https://lender.example.in/ocen/",
        "public_key": public_pem(rsa_key("lender")),
        "actor": actor,
    }
    return services.onboard_participant(**{**arguments, **overrides})


# --- onboarding -----------------------------------------------------------------------------


def test_onboarding_creates_organisation_participant_key_and_client(actor, registry_admin):
    credentials = onboard(actor)
    participant = Participant.objects.select_related("organisation", "application").get()
    assert participant.organisation.name == "Bharat Lending Bank"
    assert participant.role == Role.LENDER
    assert participant.base_url == "https://lender.example.in/ocen"
    assert participant.review_status == ReviewStatus.APPROVED and participant.status == OperationalStatus.ACTIVE
    assert participant.approved_by == registry_admin and participant.recorded_by == registry_admin
    assert participant.application.client_type == Application.CLIENT_CONFIDENTIAL
    assert participant.application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert participant.client_id == participant.application.client_id
    key = participant.keys.get()
    assert key.status == KeyStatus.ACTIVE and key.alg == "RS256" and "d" not in key.jwk
    assert credentials.as_json() == {
        "participantId": str(participant.id),
        "orgId": str(participant.organisation_id),
        "clientId": participant.client_id,
        "clientAuthentication": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "clientSecret": credentials.client_secret,
    }


def test_client_secret_has_256_bits_and_is_stored_only_as_a_hash(actor):
    credentials = onboard(actor)
    application = Application.objects.get()
    assert len(credentials.client_secret) >= 43  # 32 random bytes, base64url
    assert credentials.client_secret not in application.client_secret
    assert application.client_secret.startswith("ocen_hmac_sha256$")


def test_onboarding_writes_an_audit_event_without_the_secret(actor, registry_admin):
    credentials = onboard(actor)
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["organisation.created", "participant.onboarded"]
    event = events[1]
    assert event.actor == "asha" and event.actor_user == registry_admin
    assert event.participant == credentials.participant
    assert event.details["clientId"] == credentials.participant.client_id
    assert event.details["key"]["kid"] == credentials.participant.keys.get().kid
    assert credentials.client_secret not in json.dumps(event.details)


def test_second_role_of_an_organisation_reuses_it_by_name(actor):
    first = onboard(actor)
    second = onboard(actor, org_name="bharat lending bank", role="LOAN_AGENT", public_key=public_pem(rsa_key("agent")))
    assert second.participant.organisation_id == first.participant.organisation_id
    assert Organisation.objects.count() == 1


def test_organisation_can_be_given_by_id(actor):
    org_id = uuid.uuid4()
    credentials = onboard(actor, org_id=str(org_id))
    assert credentials.participant.organisation_id == org_id


def test_older_role_spelling_is_stored_as_derived_data_partner(actor):
    credentials = onboard(actor, role="DERIVED_DATA_PROVIDER")
    assert credentials.participant.role == Role.DERIVED_DATA_PARTNER


def test_one_participant_per_organisation_and_role(actor):
    onboard(actor)
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        onboard(actor, public_key=public_pem(rsa_key("other")))
    assert "already has a Lender participant" in str(excinfo.value)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"role": "BORROWER"}, "role", "Unknown role 'BORROWER'"),
        ({"base_url": "http://lender.example.in/ocen"}, "base_url", "must use https"),
        ({"base_url": "https://user:pw@lender.example.in"}, "base_url", "must not carry a user name"),
        ({"base_url": "not a url"}, "base_url", "Enter a full API base URL"),
        ({"public_key": "garbage"}, "public_key", "Not a recognised public key"),
        ({"public_key": private_pem(rsa_key("lender"))}, "public_key", "private key material"),
        ({"org_name": ""}, "org_name", "Give the organisation's name."),
        ({"org_id": "not-a-uuid"}, "org_id", "not a valid organisation id"),
    ],
)
def test_bad_onboarding_input_is_refused_and_nothing_is_stored(actor, overrides, field, message):
    before = row_counts()
    with pytest.raises(ValidationError) as excinfo:
        onboard(actor, **overrides)
    assert message in " ".join(excinfo.value.message_dict[field])
    assert row_counts() == before


def test_every_bad_field_is_reported_at_once(actor):
    with pytest.raises(ValidationError) as excinfo:
        onboard(actor, role="NOPE", base_url="ftp://x", public_key="junk")
    assert set(excinfo.value.message_dict) == {"role", "base_url", "public_key"}


def test_loopback_http_base_url_only_while_allowed(actor):
    with override_settings(OCEN_ALLOW_LOOPBACK_HTTP=False), pytest.raises(ValidationError):
        onboard(actor, base_url="http://127.0.0.1:9001/ocen")
    with override_settings(OCEN_ALLOW_LOOPBACK_HTTP=True):
        assert (
            onboard(actor, base_url="http://127.0.0.1:9001/ocen").participant.base_url == "http://127.0.0.1:9001/ocen"
        )


@pytest.mark.parametrize(
    "base_url",
    [
        "https://10.0.0.5/ocen",
        "https://192.168.1.20:8443/ocen",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/ocen",
        "https://0.0.0.0/ocen",
        "https://[fe80::1]/ocen",
        "https://[fc00::5]/ocen",
        "https://[::ffff:10.0.0.1]/ocen",
        "https://[64:ff9b::a00:1]/ocen",
        "https://224.0.0.1/ocen",
        "https://169.254.169.\uff12\uff15\uff14/latest",  # full-width digits: 169.254.169.254 to clients
        "https://10.0.0.\uff10\uff11/ocen",  # 10.0.0.01 to a C library: 10.0.0.1
    ],
)
def test_a_base_url_at_a_private_or_reserved_address_is_refused_and_nothing_is_stored(actor, base_url):
    before = row_counts()
    with pytest.raises(ValidationError) as refused:
        onboard(actor, base_url=base_url)
    assert "public addresses" in " ".join(refused.value.message_dict["base_url"])
    assert row_counts() == before


def test_a_base_url_at_loopback_only_while_loopback_is_allowed_and_names_are_not_resolved(actor):
    for loopback in ("https://127.0.0.1:9443/ocen", "https://localhost/ocen", "https://api.localhost/ocen"):
        with override_settings(OCEN_ALLOW_LOOPBACK_HTTP=False), pytest.raises(ValidationError, match="public addr"):
            onboard(actor, base_url=loopback)
    public = onboard(actor, org_name="Public Co", base_url="https://1.1.1.1/ocen", public_key=public_pem(rsa_key("p")))
    assert public.participant.base_url == "https://1.1.1.1/ocen"
    # A name is taken as it is: it may not resolve from the registry's own network.
    named = onboard(
        actor, org_name="Named Co", base_url="https://no-such.invalid/ocen", public_key=public_pem(rsa_key("n"))
    )
    assert named.participant.base_url == "https://no-such.invalid/ocen"


def test_onboarding_failing_half_way_leaves_nothing_behind(actor):
    """A failure after the client and participant rows are written rolls all of them back."""

    def fail_on_key_insert(sender, instance, created, **kwargs):
        raise RuntimeError("disk full")

    before = row_counts()
    post_save.connect(fail_on_key_insert, sender=ParticipantKey)
    try:
        with pytest.raises(RuntimeError):
            onboard(actor)
    finally:
        post_save.disconnect(fail_on_key_insert, sender=ParticipantKey)
    assert row_counts() == before


def test_certificate_key_takes_its_validity_window(actor):
    now = timezone.now()
    pem = certificate_pem(
        rsa_key("lender"), not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=90)
    )
    key = onboard(actor, public_key=pem).participant.keys.get()
    assert key.valid_until == now.replace(microsecond=0) + dt.timedelta(days=90)
    assert key.cert_subject == "C=IN,CN=lender.example.in"


# --- four eyes -------------------------------------------------------------------------------


@override_settings(OCEN_FOUR_EYES=True)
def test_four_eyes_onboarding_waits_for_a_second_administrator(actor, second_admin):
    participant = onboard(actor).participant
    assert participant.review_status == ReviewStatus.UNDER_REVIEW and not participant.can_authenticate
    with pytest.raises(ValidationError, match="cannot approve it"):
        services.approve_participant(participant=participant, actor=actor)
    approved = services.approve_participant(participant=participant, actor=services.Actor.for_user(second_admin))
    assert approved.review_status == ReviewStatus.APPROVED and approved.approved_by == second_admin
    assert AuditEvent.objects.filter(action="participant.approved", actor="vikram").count() == 1


@override_settings(OCEN_FOUR_EYES=True)
def test_four_eyes_approval_needs_a_named_administrator(actor):
    participant = onboard(actor).participant
    with pytest.raises(ValidationError, match="needs a named administrator"):
        services.approve_participant(participant=participant, actor=services.Actor.cli())


# --- review and status -------------------------------------------------------------------------


@override_settings(OCEN_FOUR_EYES=True)
def test_rejecting_an_application(actor, second_admin):
    participant = onboard(actor).participant
    rejected = services.reject_participant(participant=participant, actor=actor, reason="incomplete KYC")
    assert rejected.review_status == ReviewStatus.REJECTED and rejected.status_reason == "incomplete KYC"
    assert AuditEvent.objects.get(action="participant.rejected").details == {"reason": "incomplete KYC"}


def test_an_approved_participant_cannot_be_rejected(actor, lender):
    with pytest.raises(ValidationError, match="suspend or offboard"):
        services.reject_participant(participant=lender.participant, actor=actor)


def test_suspend_and_reinstate(actor, lender):
    assert Participant.objects.active().get() == lender.participant
    suspended = services.suspend_participant(participant=lender.participant, actor=actor, reason="audit finding")
    assert suspended.status == OperationalStatus.SUSPENDED and not suspended.can_authenticate
    assert not Participant.objects.active().exists()
    reinstated = services.reinstate_participant(participant=suspended, actor=actor)
    assert reinstated.status == OperationalStatus.ACTIVE and reinstated.can_authenticate
    actions = list(AuditEvent.objects.filter(participant=lender.participant).values_list("action", flat=True))
    assert actions[:2] == ["participant.reinstated", "participant.suspended"]


def test_suspending_twice_is_refused(actor, lender):
    services.suspend_participant(participant=lender.participant, actor=actor)
    with pytest.raises(ValidationError, match="Only an active participant"):
        services.suspend_participant(participant=lender.participant, actor=actor)


def test_reinstating_an_active_participant_is_refused(actor, lender):
    with pytest.raises(ValidationError, match="Only a suspended participant"):
        services.reinstate_participant(participant=lender.participant, actor=actor)


def test_updating_the_base_url_is_validated_and_audited(actor, lender):
    services.update_participant(participant=lender.participant, actor=actor, base_url="https://api.lender.in/v4/")
    assert Participant.objects.get().base_url == "https://api.lender.in/v4"
    event = AuditEvent.objects.get(action="participant.updated")
    assert event.details == {"baseUrl": "https://api.lender.in/v4", "previousBaseUrl": "https://lender.example.in/ocen"}
    with pytest.raises(ValidationError):
        services.update_participant(participant=lender.participant, actor=actor, base_url="http://lender.in")


def test_updating_an_organisation_touches_its_participants(actor, lender):
    before = Participant.objects.get().updated_at
    services.update_organisation(organisation=lender.participant.organisation, actor=actor, email="ops@bharat.in")
    assert Organisation.objects.get().email == "ops@bharat.in"
    assert Participant.objects.get().updated_at > before
    assert AuditEvent.objects.get(action="organisation.updated").details == {"changed": {"email": "ops@bharat.in"}}


# --- secrets -------------------------------------------------------------------------------------


def test_rotating_the_secret_replaces_it(actor, lender):
    old_hash = Application.objects.get().client_secret
    rotated = services.rotate_client_secret(participant=lender.participant, actor=actor)
    application = Application.objects.get()
    assert rotated.client_secret != lender.client_secret
    assert application.client_secret != old_hash and application.client_id == lender.participant.client_id
    event = AuditEvent.objects.get(action="participant.secret_rotated")
    assert rotated.client_secret not in json.dumps(event.details)


# --- keys ------------------------------------------------------------------------------------------


def test_adding_a_key_for_rotation(actor, lender):
    key = services.add_participant_key(
        participant=lender.participant, public_key=json.dumps(reference_public_jwk()), actor=actor
    )
    assert key.status == KeyStatus.ACTIVE
    assert lender.participant.keys.filter(status=KeyStatus.ACTIVE).count() == 2
    assert AuditEvent.objects.get(action="key.added").details["key"]["kid"] == key.kid


def test_the_same_key_twice_is_refused(actor, lender):
    with pytest.raises(ValidationError, match="already has a key with kid"):
        services.add_participant_key(
            participant=lender.participant, public_key=public_pem(rsa_key("lender")), actor=actor
        )
    assert ParticipantKey.objects.count() == 1


def test_retiring_a_key_keeps_it_verifying_for_the_grace_period(actor, lender, settings):
    settings.OCEN_KEY_RETIREMENT_GRACE = 3600
    old = lender.participant.keys.get()
    services.add_participant_key(
        participant=lender.participant,
        public_key=public_pem(rsa_key("lender-2")),
        actor=actor,
        primary_from=timezone.now(),
    )
    now = timezone.now()
    retired = services.retire_key(key=old, actor=actor, now=now)
    assert retired.status == KeyStatus.RETIRED
    assert retired.is_usable_at(now + dt.timedelta(minutes=59))
    assert not retired.is_usable_at(now + dt.timedelta(minutes=61))
    assert AuditEvent.objects.filter(action="key.retired").count() == 1


def test_the_only_active_key_cannot_be_retired(actor, lender):
    with pytest.raises(ValidationError, match="only active key"):
        services.retire_key(key=lender.participant.keys.get(), actor=actor)


def test_revoking_a_key_needs_a_reason_and_stops_it_verifying(actor, lender):
    key = services.add_participant_key(participant=lender.participant, public_key=public_pem(rsa_key("s")), actor=actor)
    with pytest.raises(ValidationError):
        services.revoke_key(key=key, actor=actor, reason=" ")
    revoked = services.revoke_key(key=key, actor=actor, reason="private key leaked")
    assert revoked.status == KeyStatus.REVOKED and revoked.revoked_at is not None
    assert not revoked.is_usable_at(timezone.now())
    assert AuditEvent.objects.get(action="key.revoked").details["reason"] == "private key leaked"


def test_audit_events_are_append_only(actor, lender):
    event = AuditEvent.objects.first()
    event.action = "tampered"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(action="tampered")
    assert not AuditEvent.objects.filter(action="tampered").exists()


def test_an_offboarded_tombstone_does_not_block_a_new_participant_in_its_role(actor, lender):
    services.offboard_participant(participant=lender.participant, actor=actor, reason="left")
    again = services.onboard_participant(
        organisation=lender.participant.organisation,
        role="LENDER",
        base_url="https://lender.example.in/ocen",
        public_key=public_pem(rsa_key("lender-again")),
        actor=actor,
    )
    assert again.participant.pk != lender.participant.pk and again.participant.can_authenticate
    assert Participant.objects.get(pk=lender.participant.pk).status == OperationalStatus.OFFBOARDED  # still readable
    with pytest.raises(ValidationError, match="already has a Lender"):
        services.onboard_participant(
            organisation=lender.participant.organisation,
            role="LENDER",
            base_url="https://x.example.in",
            public_key=public_pem(rsa_key("lender-third")),
            actor=actor,
        )


def test_one_public_key_belongs_to_one_organisation(actor, lender):
    with pytest.raises(ValidationError, match="registered to another organisation"):
        services.onboard_participant(
            org_name="Copycat Bank",
            role="LENDER",
            base_url="https://copy.example.in",
            public_key=public_pem(rsa_key("lender")),
            actor=actor,
        )
    # The same organisation may register it for another of its roles.
    services.onboard_participant(
        organisation=lender.participant.organisation,
        role="KYC_PARTNER",
        base_url="https://kyc.example.in",
        public_key=public_pem(rsa_key("lender")),
        actor=actor,
    )


def test_approval_is_never_before_creation(actor, lender):
    assert lender.participant.approved_at == lender.participant.created_at


def test_the_primary_key_switches_when_scheduled_and_cannot_be_retired(actor, lender):
    first = lender.participant.keys.get()
    later = timezone.now() + dt.timedelta(hours=1)
    second = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("p2")), actor=actor, primary_from=later
    )
    keys = list(lender.participant.keys.all())
    assert primary_key(keys, timezone.now()) == first and primary_key(keys, later) == second
    assert next_primary_switch(keys, timezone.now()) == later
    with pytest.raises(ValidationError, match="primary key"):
        services.retire_key(key=first, actor=actor)
    with pytest.raises(ValidationError, match="not in the past"):
        services.promote_participant_key(
            participant=lender.participant, kid=second.kid, actor=actor, at=timezone.now() - dt.timedelta(hours=1)
        )
    services.promote_participant_key(participant=lender.participant, kid=second.kid, actor=actor)
    assert primary_key(list(lender.participant.keys.all()), timezone.now()) == second
    services.retire_key(key=first, actor=actor)  # no longer primary: it may go
    assert AuditEvent.objects.filter(action__in=["key.promoted", "key.retired"]).count() == 2


def test_the_primary_key_cannot_be_rescheduled_out_of_publickey(actor, lender):
    """A later switch to the key that is primary now would leave publicKey to an older key (or null) at once."""
    first = lender.participant.keys.get()
    second = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("p2")), actor=actor, primary_from=timezone.now()
    )
    for at in (None, timezone.now() + dt.timedelta(minutes=10)):
        with pytest.raises(ValidationError, match="primary key already"):
            services.promote_participant_key(participant=lender.participant, kid=second.kid, actor=actor, at=at)
    assert primary_key(list(lender.participant.keys.all()), timezone.now()) == second
    services.promote_participant_key(participant=lender.participant, kid=first.kid, actor=actor)  # back: allowed
    assert primary_key(list(lender.participant.keys.all()), timezone.now()) == first


def test_the_primary_key_is_revoked_only_with_a_successor_made_primary_in_the_same_operation(actor, lender):
    primary = lender.participant.keys.get()
    with pytest.raises(ValidationError, match="no other key can take its place"):
        services.revoke_key(key=primary, actor=actor, reason="leaked")
    spare = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("spare")), actor=actor
    )
    with pytest.raises(ValidationError, match="name the key that takes its place"):
        services.revoke_key(key=primary, actor=actor, reason="leaked")
    with pytest.raises(ValidationError, match="no key 'nope'"):
        services.revoke_key(key=primary, actor=actor, reason="leaked", successor_kid="nope")
    assert ParticipantKey.objects.get(pk=primary.pk).status == KeyStatus.ACTIVE  # nothing written by a refusal
    ended = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("e")), actor=actor
    )
    past = timezone.now() - dt.timedelta(days=2)
    ParticipantKey.objects.filter(pk=ended.pk).update(valid_from=past, valid_until=past + dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="outside its validity"):  # publicKey would name a key none takes
        services.revoke_key(key=primary, actor=actor, reason="leaked", successor_kid=ended.kid)

    services.revoke_key(key=primary, actor=actor, reason="leaked", successor_kid=spare.kid)
    keys = list(lender.participant.keys.all())
    assert primary_key(keys, timezone.now()).kid == spare.kid
    assert ParticipantKey.objects.get(pk=primary.pk).status == KeyStatus.REVOKED
    event = AuditEvent.objects.get(action="key.revoked")
    assert event.details["successor"]["kid"] == spare.kid


def test_only_a_key_of_an_allowed_type_can_be_primary(actor, lender, settings):
    settings.OCEN_PARTICIPANT_KEY_TYPES = ["RSA", "EC"]
    ec = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(ec_key("p256")), actor=actor
    )
    rsa_primary = lender.participant.keys.get(key_type="RSA")
    settings.OCEN_PARTICIPANT_KEY_TYPES = ["RSA"]  # the registry's providers run the reference verifier again
    with pytest.raises(ValidationError, match="does not allow as primary"):
        services.promote_participant_key(participant=lender.participant, kid=ec.kid, actor=actor)
    ParticipantKey.objects.filter(pk=ec.pk).update(primary_from=timezone.now())  # switched to while EC was allowed
    assert primary_key(list(lender.participant.keys.all()), timezone.now()) == rsa_primary
    ParticipantKey.objects.filter(pk=rsa_primary.pk).update(status=KeyStatus.REVOKED, revoked_at=timezone.now())
    assert primary_key(list(lender.participant.keys.all()), timezone.now()) is None  # never the EC key


def application(actor, settings, name: str, **overrides) -> Participant:
    """A lender's application waiting for a second administrator (four-eyes on), its key named after it."""
    settings.OCEN_FOUR_EYES = True
    return onboard(actor, org_name=name, public_key=public_pem(rsa_key(name)), **overrides).participant


def test_a_rejected_application_frees_its_place_for_a_new_one(actor, settings):
    first = application(actor, settings, "Reapply Bank")
    services.reject_participant(participant=first, actor=actor, reason="licence missing")

    second = onboard(actor, org_name="", organisation=first.organisation, public_key=public_pem(rsa_key("again")))

    assert second.participant.pk != first.pk and Participant.objects.get(pk=first.pk).is_rejected
    with pytest.raises(ValidationError, match="was rejected"):
        services.create_product(lender=first, actor=actor, name="Never")


def test_a_rejected_participants_keys_are_never_retired(actor, settings):
    waiting = application(actor, settings, "Retire Bank")
    services.add_participant_key(participant=waiting, public_key=public_pem(rsa_key("second")), actor=actor)
    rejected = services.reject_participant(participant=waiting, actor=actor, reason="no")
    with pytest.raises(ValidationError, match="was rejected"):
        services.retire_key(key=rejected.keys.first(), actor=actor)
    assert not rejected.keys.filter(status=KeyStatus.RETIRED).exists()


def test_an_application_is_approved_or_rejected_never_suspended(actor, settings):
    waiting = application(actor, settings, "Waiting Bank")
    with pytest.raises(ValidationError, match="not suspended"):
        services.suspend_participant(participant=waiting, actor=actor, reason="x")


def test_a_rejected_participants_keys_are_published_withheld(actor, settings):
    from participants.wire import publication

    waiting = application(actor, settings, "Withheld Bank")
    rejected = services.reject_participant(participant=waiting, actor=actor, reason="no")
    published = publication(rejected, list(rejected.keys.all()))
    assert published.primary is None and all(item["withheld"] for item in published.items)


def test_every_participant_is_in_exactly_the_state_it_shows(actor, lender, loan_agent, kyc_partner, settings):
    from participants.models import PARTICIPANT_STATES

    services.suspend_participant(participant=loan_agent.participant, actor=actor, reason="x")
    services.offboard_participant(participant=kyc_partner.participant, actor=actor, reason="x")
    application(actor, settings, "Applied Co", pending="APPLIED")
    application(actor, settings, "Review Co")
    services.reject_participant(participant=application(actor, settings, "Rejected Co"), actor=actor, reason="x")

    for participant in Participant.objects.all():
        matching = [
            state for state, rule in PARTICIPANT_STATES.items() if Participant.objects.filter(rule, pk=participant.pk)
        ]
        assert matching == [participant.state], participant
    assert {p.state for p in Participant.objects.all()} == set(PARTICIPANT_STATES)
