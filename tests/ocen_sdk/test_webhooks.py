"""The toolkit's side of webhooks: one call checks a delivery's registry signature against the JWKS found by
discovery, that it is for the receiver's own subscription and that it is recent, and refuses anything else."""

import json
import time

import pytest

from authapi import webhooks
from ocen_sdk import RegistryKeys, VerificationError, verify_event
from ocen_sdk.webhooks import DEFAULT_MAX_AGE
from participants import services
from tests.ocen_sdk.conftest import onboard
from tests.servers import Receiver

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def delivery(registry, actor, settings):
    """One real delivery (the worker's task, run here) of a suspension, as its receiver got it, and the id of the
    subscription it was for."""
    settings.OCEN_ALLOW_LOOPBACK_HTTP = True
    subscriber, _ = onboard(actor, "Agent NBFC", "LOAN_AGENT", "agent")
    lender, _ = onboard(actor, "Lender Bank", "LENDER", "lender")
    receiver = Receiver()
    subscription = services.subscribe(
        participant=subscriber.participant, url=receiver.url, events=["status.changed"], actor=actor
    )
    services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
    webhooks.deliver.call(str(subscription.pk))
    receiver.down()
    [(headers, body)] = receiver.deliveries
    return headers, body, lender.participant, str(subscription.pk)


def test_a_delivery_verifies_in_one_call(registry, delivery):
    headers, body, lender, mine = delivery
    event = verify_event(body, headers, RegistryKeys(registry["issuer"]), subscription_id=mine)
    assert (event["type"], event["objectId"], event["record"]["status"]) == (
        "status.changed",
        str(lender.pk),
        "SUSPENDED",
    )


@pytest.mark.parametrize(
    "forge",
    [
        lambda headers, body: (headers, body.replace(b"SUSPENDED", b"ACTIVE")),
        lambda headers, body: ({k: v for k, v in headers.items() if k != "x-jws-signature"}, body),
        lambda headers, body: ({**headers, "x-jws-signature": "e30..AAAA"}, body),
        lambda headers, body: (headers, body + b" "),
    ],
    ids=["altered body", "no signature", "garbage signature", "one byte more"],
)
def test_a_forged_or_altered_delivery_is_refused(registry, delivery, forge):
    headers, body, _, mine = delivery
    headers, body = forge(headers, body)
    with pytest.raises(VerificationError):
        verify_event(body, headers, RegistryKeys(registry["issuer"]), subscription_id=mine)


def test_a_signed_body_that_is_not_an_event_is_refused(registry, delivery, settings):
    from authapi import signing

    body = json.dumps({"hello": "world"}).encode()
    with pytest.raises(VerificationError, match="malformed_body"):
        verify_event(
            body,
            {"x-jws-signature": signing.sign_detached(body)},
            RegistryKeys(registry["issuer"]),
            subscription_id="x",
        )


def test_a_genuine_delivery_replayed_to_another_subscriber_is_refused(registry, delivery, actor):
    """Every subscriber receives genuine signed events: one posted to another subscriber's receiver names the
    subscription it was for, which is not the receiver's."""
    headers, body, _, mine = delivery
    neighbour, _ = onboard(actor, "Neighbour NBFC", "LOAN_AGENT", "neighbour")
    theirs = services.subscribe(
        participant=neighbour.participant, url="http://127.0.0.1:9/events", events=["status.changed"], actor=actor
    )
    with pytest.raises(VerificationError) as refused:
        verify_event(body, headers, RegistryKeys(registry["issuer"]), subscription_id=str(theirs.pk))
    assert refused.value.reason == "subscription_mismatch"
    assert mine in refused.value.message and str(theirs.pk) in refused.value.message


def test_a_delivery_that_occurred_longer_ago_than_max_age_is_refused(registry, delivery):
    headers, body, _, mine = delivery
    keys = RegistryKeys(registry["issuer"])
    occurred = json.loads(body)["occurredAt"]
    assert DEFAULT_MAX_AGE == 300

    def later(seconds):
        return lambda: time.time() + seconds

    assert verify_event(body, headers, keys, subscription_id=mine, clock=later(DEFAULT_MAX_AGE - 30))
    with pytest.raises(VerificationError) as refused:
        verify_event(body, headers, keys, subscription_id=mine, clock=later(DEFAULT_MAX_AGE + 1))
    assert refused.value.reason == "event_stale" and occurred in refused.value.message
    with pytest.raises(VerificationError, match="event_stale"):
        verify_event(body, headers, keys, subscription_id=mine, max_age=10, clock=later(11))
    assert verify_event(body, headers, keys, subscription_id=mine, max_age=None, clock=later(86400 * 30))
