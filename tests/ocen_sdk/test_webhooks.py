"""The toolkit's side of webhooks: one call checks a delivery's registry signature against the JWKS found by
discovery, and refuses anything else."""

import json

import pytest

from authapi import webhooks
from ocen_sdk import RegistryKeys, VerificationError, verify_event
from participants import services
from tests.ocen_sdk.conftest import onboard
from tests.servers import Receiver

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def delivery(registry, actor, settings):
    """One real delivery (the worker's task, run here) of a suspension, as its receiver got it."""
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
    return headers, body, lender.participant


def test_a_delivery_verifies_in_one_call(registry, delivery):
    headers, body, lender = delivery
    event = verify_event(body, headers, RegistryKeys(registry["issuer"]))
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
    headers, body, _ = delivery
    headers, body = forge(headers, body)
    with pytest.raises(VerificationError):
        verify_event(body, headers, RegistryKeys(registry["issuer"]))


def test_a_signed_body_that_is_not_an_event_is_refused(registry, delivery, settings):
    from authapi import signing

    body = json.dumps({"hello": "world"}).encode()
    with pytest.raises(VerificationError, match="malformed_body"):
        verify_event(body, {"x-jws-signature": signing.sign_detached(body)}, RegistryKeys(registry["issuer"]))
