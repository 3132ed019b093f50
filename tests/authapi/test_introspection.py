"""Introspection (RFC 7662) and revocation (RFC 7009) for participants (contract §4.4)."""

import datetime as dt

from django.utils import timezone
from oauth2_provider.models import AccessToken

from participants import services
from tests.authapi.conftest import basic, get_token, post_form


def introspect(client, caller, token):
    return post_form(
        client,
        "/auth/introspect",
        {"token": token},
        HTTP_AUTHORIZATION=basic(caller.participant.client_id, caller.client_secret),
    )


def test_an_active_token(client, lender, loan_agent, agent_token):
    response = introspect(client, lender, agent_token)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["sub"] == body["participantId"] == str(loan_agent.participant.id)
    assert body["client_id"] == loan_agent.participant.client_id and body["scope"] == "ocen"
    assert body["exp"] - body["iat"] == 3600 and body["participantRole"] == "LOAN_AGENT"


def test_client_credentials_may_also_come_in_the_body(client, lender, agent_token):
    response = post_form(
        client,
        "/auth/introspect",
        {"token": agent_token, "client_id": lender.participant.client_id, "client_secret": lender.client_secret},
    )
    assert response.json()["active"] is True


def test_revoked_token_is_inactive(client, lender, loan_agent, agent_token):
    response = post_form(
        client,
        "/auth/revoke",
        {"token": agent_token},
        HTTP_AUTHORIZATION=basic(loan_agent.participant.client_id, loan_agent.client_secret),
    )
    assert response.status_code == 200
    assert introspect(client, lender, agent_token).json() == {"active": False}


def test_revoking_another_clients_token_has_no_effect(client, lender, agent_token):
    response = post_form(
        client,
        "/auth/revoke",
        {"token": agent_token},
        HTTP_AUTHORIZATION=basic(lender.participant.client_id, lender.client_secret),
    )
    assert response.status_code == 200
    assert introspect(client, lender, agent_token).json()["active"] is True


def test_expired_token_is_inactive(client, lender, agent_token):
    AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))
    assert introspect(client, lender, agent_token).json() == {"active": False}


def test_token_of_a_suspended_or_offboarded_participant_is_inactive(client, actor, lender, loan_agent):
    token = get_token(client, loan_agent)
    services.suspend_participant(participant=loan_agent.participant, actor=actor)
    assert introspect(client, lender, token).json() == {"active": False}
    services.reinstate_participant(participant=loan_agent.participant, actor=actor)
    token = get_token(client, loan_agent)
    services.offboard_participant(participant=loan_agent.participant, actor=actor)
    assert introspect(client, lender, token).json() == {"active": False}


def test_unknown_and_forged_tokens_are_inactive(client, lender, agent_token):
    header, payload, signature = agent_token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for token in ("nonsense", forged):
        assert introspect(client, lender, token).json() == {"active": False}


def test_the_caller_must_authenticate(client, lender, loan_agent, agent_token, actor):
    anonymous = post_form(client, "/auth/introspect", {"token": agent_token})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    services.suspend_participant(participant=lender.participant, actor=actor)
    assert introspect(client, lender, get_token(client, loan_agent)).status_code == 401


def test_token_is_required(client, lender):
    response = post_form(
        client, "/auth/introspect", {}, HTTP_AUTHORIZATION=basic(lender.participant.client_id, lender.client_secret)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
