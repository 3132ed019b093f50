"""Offboarding (contract §3): credentials withdrawn, tokens revoked, keys revoked but kept, tombstone."""

import pytest
from django.core.exceptions import ValidationError
from oauth2_provider.models import AccessToken, Application

from participants import services
from participants.models import AuditEvent, KeyStatus, OperationalStatus, Participant, ParticipantKey
from participants.services import lifecycle
from tests.dot import dot_token_request
from tests.keys import public_pem, rsa_key


def test_before_offboarding_the_client_authenticates(lender):
    status, body = dot_token_request(lender.participant.client_id, lender.client_secret)
    assert status == 200 and body["token_type"] == "Bearer"


def test_offboarded_client_can_no_longer_authenticate(actor, lender):
    services.offboard_participant(participant=lender.participant, actor=actor)
    status, body = dot_token_request(lender.participant.client_id, lender.client_secret)
    assert status == 401 and body["error"] == "invalid_client"
    assert not Application.objects.filter(client_id=lender.participant.client_id).exists()


def test_offboarding_revokes_every_access_token(actor, lender, loan_agent):
    for _ in range(3):
        assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
    assert dot_token_request(loan_agent.participant.client_id, loan_agent.client_secret)[0] == 200
    assert AccessToken.objects.count() == 4
    services.offboard_participant(participant=lender.participant, actor=actor)
    # The lender's tokens are gone; the loan agent's token is untouched.
    assert list(AccessToken.objects.values_list("application__client_id", flat=True)) == [
        loan_agent.participant.client_id
    ]
    event = AuditEvent.objects.get(action="participant.offboarded")
    assert event.details["tokensRevoked"] == 3


def test_offboarding_revokes_keys_but_keeps_them(actor, lender):
    services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("lender-2")), actor=actor
    )
    services.offboard_participant(participant=lender.participant, actor=actor)
    keys = ParticipantKey.objects.filter(participant=lender.participant)
    assert keys.count() == 2
    assert set(keys.values_list("status", flat=True)) == {KeyStatus.REVOKED}
    assert all(key.revoked_at and key.revocation_reason == "participant offboarded" for key in keys)


def test_offboarded_participant_remains_as_a_tombstone(actor, lender):
    services.offboard_participant(participant=lender.participant, actor=actor, reason="licence cancelled")
    tombstone = Participant.objects.get(pk=lender.participant.pk)
    assert tombstone.status == OperationalStatus.OFFBOARDED and tombstone.offboarded_at is not None
    assert tombstone.application is None and tombstone.client_id == lender.participant.client_id
    assert tombstone.status_reason == "licence cancelled" and not tombstone.can_authenticate


def test_offboarding_audit_trail_is_complete(actor, lender):
    kid = lender.participant.keys.get().kid
    services.offboard_participant(participant=lender.participant, actor=actor, reason="licence cancelled")
    event = AuditEvent.objects.get(action="participant.offboarded")
    assert event.actor == "asha" and event.participant_id == lender.participant.pk
    assert event.details == {
        "reason": "licence cancelled",
        "clientId": lender.participant.client_id,
        "clientDeleted": True,
        "tokensRevoked": 0,
        "keysRevoked": [kid],
        "resourceMappingsRemoved": {"networkMemberships": [], "productsWithdrawn": [], "subscriptionsRemoved": []},
    }


def test_offboarding_twice_is_refused(actor, lender):
    services.offboard_participant(participant=lender.participant, actor=actor)
    with pytest.raises(ValidationError, match="offboarded"):
        services.offboard_participant(participant=lender.participant, actor=actor)


def test_offboarded_participant_cannot_be_changed(actor, lender):
    services.offboard_participant(participant=lender.participant, actor=actor)
    for operation in (services.reinstate_participant, services.rotate_client_secret, services.approve_participant):
        with pytest.raises(ValidationError, match="tombstone"):
            operation(participant=lender.participant, actor=actor)


def test_offboarding_failing_half_way_changes_nothing(actor, lender, monkeypatch):
    """If removing resource mappings fails, the client, tokens, keys and status are all as before."""
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200

    def broken(**kwargs):
        raise RuntimeError("product registry unavailable")

    monkeypatch.setattr(lifecycle, "end_resource_mappings", broken)
    with pytest.raises(RuntimeError):
        services.offboard_participant(participant=lender.participant, actor=actor)
    participant = Participant.objects.get()
    assert participant.status == OperationalStatus.ACTIVE and participant.application is not None
    assert AccessToken.objects.count() == 1
    assert participant.keys.get().status == KeyStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="participant.offboarded").exists()
    assert dot_token_request(lender.participant.client_id, lender.client_secret)[0] == 200
