"""RegistryKeys meets a kid its copy of the registry's JWKS does not hold (issue 31): it fetches the JWKS at once,
once per kid, so a key that signs without warning (a compromise: the active key revoked, a new one in its place)
is accepted on the first token, and a flood of forged kids is not answered with a flood of fetches."""

import time
from urllib.parse import urlsplit

import jwt as pyjwt
import pytest
import requests

from authapi import signing
from ocen_sdk import RegistryClient, RegistryKeys, TokenClient, VerificationError, Verifier
from tests.keys import rsa_key
from tests.ocen_sdk.conftest import Clock, onboard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Counting(requests.Session):
    """A session that writes down the path of every request it sends."""

    def __init__(self, sent: list):
        super().__init__()
        self.sent = sent

    def request(self, method, url, *args, **kwargs):
        self.sent.append(urlsplit(url).path)
        return super().request(method, url, *args, **kwargs)


def test_a_kid_the_copy_does_not_know_is_fetched_at_once_and_once_per_kid(registry, actor):
    agent, _ = onboard(actor, "Udyam Loan Agent", "LOAN_AGENT", "keys-agent")
    lender, _ = onboard(actor, "Bharat Lending Bank", "LENDER", "keys-lender")
    sent, clock = [], Clock()
    keys = RegistryKeys(registry["issuer"], session=Counting(sent), clock=clock)
    provider = TokenClient(f"{registry['issuer']}/token", lender.participant.client_id, lender.client_secret)
    verifier = Verifier(registry["issuer"], RegistryClient(registry["service"], provider, keys=keys, clock=clock))
    caller = TokenClient(f"{registry['issuer']}/token", agent.participant.client_id, agent.client_secret)

    def fetches() -> int:
        return sum(path.endswith("/certs") for path in sent)

    def refused(token: str) -> str:
        with pytest.raises(VerificationError) as excinfo:
            verifier.verify_token(f"Bearer {token}")
        return excinfo.value.reason

    first = caller.token()
    assert verifier.verify_token(f"Bearer {first}")["participantId"] == str(agent.participant.id)
    assert fetches() == 1

    # The active key is withdrawn (a compromise): a new one signs the next token, unannounced.
    signing.revoke_signing_key(kid=pyjwt.get_unverified_header(first)["kid"], reason="drill", actor=actor)
    caller.invalidate()
    second = caller.token()
    assert verifier.verify_token(f"Bearer {second}")["participantId"] == str(agent.participant.id)  # copy 0 s old
    assert fetches() == 2

    claims = pyjwt.decode(second, options={"verify_signature": False})

    def forged(kid: str) -> str:
        return pyjwt.encode(claims, rsa_key("keys-forger"), algorithm="RS256", headers={"kid": kid})

    clock.advance(1)  # min_fetch_interval: a burst of unknown kids makes one early fetch a second
    assert refused(forged("forged-1")) == "unknown_kid" and fetches() == 3
    clock.advance(1)
    assert all(refused(forged("forged-1")) == "unknown_kid" for _ in range(20))
    assert fetches() == 3  # the same unknown kid again: not fetched again within min_refresh_interval (30 s)
    assert refused(forged("forged-2")) == "unknown_kid" and fetches() == 4  # another kid is not held back by it

    # And a second withdrawal a second later: its new kid is fetched at once too.
    signing.revoke_signing_key(kid=pyjwt.get_unverified_header(second)["kid"], reason="drill", actor=actor)
    caller.invalidate()
    clock.advance(1)
    assert verifier.verify_token(f"Bearer {caller.token()}")["participantId"] == str(agent.participant.id)
    assert fetches() == 5


def test_forged_kids_in_a_burst_cost_the_registry_one_fetch_per_min_fetch_interval(registry):
    sent, clock = [], Clock()
    keys = RegistryKeys(registry["issuer"], session=Counting(sent), clock=clock)
    keys.jwks()
    started = time.monotonic()
    for n in range(50):
        keys.jwks(unknown_kid=f"forged-{n}")
    assert sum(path.endswith("/certs") for path in sent) == 2  # the copy, then one early fetch in this second
    assert time.monotonic() - started < 5
