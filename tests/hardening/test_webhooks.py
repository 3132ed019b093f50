"""Signed webhooks end to end, in production mode: a participant subscribes over HTTP to a gunicorn registry
(DJANGO_DEBUG=0); two real `manage.py run_worker` processes share the queue; a real HTTP server receives.
Each event is checked with joserfc against the JWKS the registry publishes."""

import base64
import json
import time

import pytest
import requests
from django.db import connection
from joserfc import jws as joserfc_jws
from joserfc.jwk import KeySet

from participants import services
from participants.models import Subscription
from tests.keys import public_pem, rsa_key
from tests.ocen_sdk.conftest import onboard
from tests.servers import Receiver, access_token, gunicorn, production_env, wait_until, worker

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def registry(transactional_db, settings):
    """A gunicorn registry and two workers on the test database, retrying failed deliveries after 0.2 s
    (doubling, at most 1 s); yields the registry's base URL."""
    env = production_env(
        connection.settings_dict,
        OCEN_ALLOW_LOOPBACK_HTTP=1,
        OCEN_WEBHOOK_BACKOFF_SECONDS=0.2,
        OCEN_WEBHOOK_BACKOFF_MAX_SECONDS=1,
    )
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
    with gunicorn(env) as base, worker(env), worker(env):
        yield base


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.down()


def verified_events(base: str, deliveries) -> list[dict]:
    """Each delivery's event, its detached JWS checked by joserfc with the registry's published JWKS."""
    keys = KeySet.import_key_set(requests.get(f"{base}/auth/certs", timeout=10).json())
    events = []
    for headers, body in deliveries:
        signature = headers["x-jws-signature"]
        header = json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))
        assert header == {"alg": "RS256", "b64": False, "crit": ["b64"], "kid": header["kid"]}
        joserfc_jws.deserialize_compact(signature, keys.get_by_kid(header["kid"]), payload=body)
        events.append(json.loads(body))
    return events


def test_trust_changes_reach_a_subscriber_as_signed_events_and_survive_its_outage(registry, actor, receiver):
    subscriber, _ = onboard(actor, "Agent NBFC", "LOAN_AGENT", "agent")
    lender, lender_kid = onboard(actor, "Lender Bank", "LENDER", "lender")
    token = access_token(registry, subscriber)
    created = requests.post(
        f"{registry}/service/subscriptions",
        json={"url": receiver.url, "events": ["status.changed", "keys.changed"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text

    # A suspension and a key revocation each arrive, signed, within seconds.
    services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
    [suspended] = verified_events(registry, [receiver.wait_for(1) and receiver.deliveries[0]])
    assert (suspended["type"], suspended["objectId"]) == ("status.changed", str(lender.participant.pk))
    assert suspended["record"]["status"] == "SUSPENDED"
    services.reinstate_participant(participant=lender.participant, actor=actor)
    spare = services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("lender-spare")), actor=actor
    )
    services.revoke_key(key=spare, actor=actor, reason="leaked")
    events = verified_events(registry, receiver.deliveries[: len(receiver.wait_for(4))])
    revoked = {k["kid"]: k for k in events[-1]["record"]["publicKeys"]["keys"]}[spare.kid]
    assert [e["type"] for e in events[1:]] == ["status.changed", "keys.changed", "keys.changed"]
    assert revoked["status"] == "REVOKED" and lender_kid in events[-1]["record"]["publicKey"]

    # The receiver is down for a while, then answers 503 once: nothing is lost, nothing is out of order, and
    # the event delivered again carries the id it had.
    receiver.down()
    for n in range(3):
        services.suspend_participant(participant=lender.participant, actor=actor, reason=f"outage {n}")
        services.reinstate_participant(participant=lender.participant, actor=actor)
    assert wait_until(lambda: Subscription.objects.get().attempts >= 2)  # several attempts fail meanwhile
    receiver.status = 503
    receiver.up()
    assert wait_until(lambda: len(receiver.attempts) > 4)
    receiver.status = 200
    services.offboard_participant(participant=lender.participant, actor=actor, reason="licence cancelled")
    events = verified_events(registry, receiver.deliveries[: len(receiver.wait_for(4 + 6 + 1))])

    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["id"] for e in events}) == len(events) == 11  # each once among those taken
    assert [e["type"] for e in events[4:]] == ["status.changed"] * 7
    # Like the feed's entries, each carries the record as it is when delivered: by then, offboarded.
    assert events[-1]["record"]["status"] == "OFFBOARDED" and events[-1]["record"]["publicKey"] is None
    refused_id = json.loads(receiver.attempts[4][1])["id"]
    assert refused_id == events[4]["id"]  # the 503'd event came again, with its id


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline_and_delays_no_other_subscriber(
    transactional_db, settings, actor
):
    """One worker, two subscribers: the first answers a byte every 0.4 s (each read well inside any per-read
    timeout; its status line alone takes 7 s), the second at once. The whole exchange has
    OCEN_WEBHOOK_TIMEOUT_SECONDS (2 s here): the trickler is cut off then, and the other's event follows."""
    env = production_env(
        connection.settings_dict,
        OCEN_ALLOW_LOOPBACK_HTTP=1,
        OCEN_WEBHOOK_TIMEOUT_SECONDS=2,
        OCEN_WEBHOOK_BACKOFF_SECONDS=60,
    )
    settings.OCEN_SIGNING_KEY_ENCRYPTION_KEYS = [env["OCEN_SIGNING_KEY_ENCRYPTION_KEYS"]]
    slow, fast = Receiver(drip=0.4), Receiver()
    try:
        with gunicorn(env) as registry, worker(env):
            lender, _ = onboard(actor, "Lender Bank", "LENDER", "lender")
            subscribers = []
            for name, receiver, events in (
                ("SlowNBFC", slow, ["keys.changed", "status.changed"]),
                ("FastNBFC", fast, ["status.changed"]),
            ):
                subscriber, _ = onboard(actor, name, "LOAN_AGENT", name)
                created = requests.post(
                    f"{registry}/service/subscriptions",
                    json={"url": receiver.url, "events": events},
                    headers={"Authorization": f"Bearer {access_token(registry, subscriber)}"},
                    timeout=10,
                )
                assert created.status_code == 201, created.text
                subscribers.append(created.json()["id"])
            # The trickler's delivery is queued first (a key only it takes), then one for both.
            services.add_participant_key(
                participant=lender.participant, public_key=public_pem(rsa_key("lender-2")), actor=actor
            )
            assert wait_until(lambda: len(slow.attempts) == 1, timeout=10)
            started = time.monotonic()
            services.suspend_participant(participant=lender.participant, actor=actor, reason="audit")

            assert fast.wait_for(1, timeout=20), "the other subscriber got nothing while the trickler held the worker"
            assert time.monotonic() - started < 5  # the trickler's 2 s, then this one

            def failure():
                return Subscription.objects.get(pk=subscribers[0]).last_error

            assert wait_until(lambda: failure(), timeout=10) and "No answer within 2 s" in failure()
    finally:
        slow.down()
        fast.down()
