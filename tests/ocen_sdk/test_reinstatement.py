"""A token issued before a participant's suspension stays refused after its reinstatement, by the registry and by
the toolkit checking tokens offline, on the registry or on a mirror (issue 31): the record publishes
tokensValidFrom, and a Verifier refuses a token whose iat is before it."""

import datetime as dt
import json

import pytest
import requests

from ocen_sdk import RegistryClient, RegistryKeys, RegistryMirror, TokenClient, VerificationError, Verifier, sign
from participants import services
from participants.models import Participant
from participants.wire import rfc3339
from tests.keys import rsa_key
from tests.ocen_sdk.conftest import onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_token_from_before_a_suspension_is_refused_offline_after_the_reinstatement(
    registry, actor, time_machine, tmp_path
):
    issuer, service = registry["issuer"], registry["service"]
    agent, agent_kid = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "reinstated-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "reinstated-lender")
    agent_id, lender_id = str(agent.participant.id), str(lender.participant.id)
    time_machine.move_to(dt.datetime.now(dt.UTC), tick=True)

    def provider_client() -> RegistryClient:
        tokens = TokenClient(f"{issuer}/token", lender.participant.client_id, lender.client_secret)
        return RegistryClient(service, tokens, keys=RegistryKeys(issuer))

    online = provider_client()
    mirror = RegistryMirror(tmp_path / "mirror.sqlite3", provider_client())
    mirror.sync()
    verifiers = {"on the registry": Verifier(issuer, online), "on a mirror": Verifier(issuer, mirror)}
    caller = TokenClient(f"{issuer}/token", agent.participant.client_id, agent.client_secret)
    body = json.dumps({"metadata": {"originatorParticipantId": agent_id}}).encode()
    signature = sign(body, rsa_key("reinstated-agent"), agent_kid)

    def call(token: str) -> dict:
        return {"Authorization": f"Bearer {token}", "x-jws-signature": signature}

    before = caller.token()
    for verifier in verifiers.values():
        assert verifier.verify_request(call(before), body)["id"] == agent_id

    time_machine.shift(5)
    services.suspend_participant(participant=agent.participant, actor=actor, reason="under investigation")
    services.reinstate_participant(participant=agent.participant, actor=actor)
    mirror.sync()
    online.participant(agent_id, refresh=True)  # as it is once its cached copy's max-age is over

    introspected = requests.post(
        f"{issuer}/introspect",
        data={"client_id": lender.participant.client_id, "client_secret": lender.client_secret, "token": before},
        timeout=10,
    ).json()
    assert introspected == {"active": False}  # the registry refuses it
    for where, verifier in verifiers.items():
        with pytest.raises(VerificationError) as refused:
            verifier.verify_token(f"Bearer {before}")
        assert refused.value.reason == "token_revoked", where
        with pytest.raises(VerificationError) as refused:
            verifier.verify_request(call(before), body)
        assert refused.value.reason == "token_revoked", where

    reinstated = Participant.objects.get(pk=agent_id).tokens_valid_from
    assert online.participant(agent_id)["tokensValidFrom"] == rfc3339(reinstated)
    assert mirror.participant(agent_id)["tokensValidFrom"] == rfc3339(reinstated)
    assert online.participant(lender_id)["tokensValidFrom"] is None  # never reinstated

    caller.invalidate()
    time_machine.move_to(reinstated, tick=True)  # the reinstatement's own second, as a grant racing it would be
    same_second = caller.token()  # iat is whole seconds: one issued in the reinstatement's second is not trusted
    for verifier in verifiers.values():
        with pytest.raises(VerificationError, match="token_revoked"):
            verifier.verify_token(f"Bearer {same_second}")
    time_machine.shift(1)
    caller.invalidate()
    after = caller.token()
    for verifier in verifiers.values():
        assert verifier.verify_token(f"Bearer {after}")["participantId"] == agent_id
        assert verifier.verify_request(call(after), body)["id"] == agent_id
