"""Webhook subscriptions (POST|GET|DELETE /service/subscriptions) and their deliveries: each change of a chosen
type, signed by the registry, in sequence order, at least once, with backoff and a pause; never to a private
address. The deliverer runs here in the test's process (webhooks.deliver.call, the worker's own task) against
a real receiving HTTP server; tests/hardening/test_webhooks.py runs it in real worker processes."""

import base64
import datetime as dt
import io
import json

import pytest
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone
from joserfc import jws as joserfc_jws
from joserfc.jwk import KeySet

from authapi import webhooks
from participants import destinations, services
from participants.models import AuditEvent, Subscription, SubscriptionStatus
from tests.authapi.conftest import bearer, get_token
from tests.keys import public_pem, rsa_key
from tests.servers import Receiver

ALL_TYPES = ["participant.changed", "status.changed", "keys.changed", "product.changed", "network.changed"]


@pytest.fixture
def receiver(settings):
    settings.OCEN_ALLOW_LOOPBACK_HTTP = True
    settings.OCEN_WEBHOOK_BACKOFF_SECONDS = 0.05
    receiver = Receiver()
    yield receiver
    receiver.down()


def subscribe(client, token, url, events=("status.changed", "keys.changed")):
    return client.post(
        "/service/subscriptions", {"url": url, "events": list(events)}, content_type="application/json", **bearer(token)
    )


def verified(client, headers: dict, body: bytes) -> dict:
    """The event, its signature checked with joserfc (not the registry's PyJWT) against the published JWKS."""
    keys = KeySet.import_key_set(client.get("/auth/certs").json())
    signature = headers["x-jws-signature"]
    header = json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))
    joserfc_jws.deserialize_compact(signature, keys.get_by_kid(header["kid"]), payload=body)
    return json.loads(body)


def test_a_participant_subscribes_lists_and_deletes_only_its_own(client, agent_token, lender_token, receiver):
    created = subscribe(client, agent_token, receiver.url, ["keys.changed", "status.changed"])
    assert created.status_code == 201, created.content
    document = created.json()
    assert document["url"] == receiver.url and document["events"] == ["status.changed", "keys.changed"]
    assert document["status"] == "ACTIVE" and document["deliveredSeq"] >= 0

    assert [s["id"] for s in client.get("/service/subscriptions", **bearer(agent_token)).json()["subscriptions"]] == [
        document["id"]
    ]
    assert client.get("/service/subscriptions", **bearer(lender_token)).json() == {"subscriptions": []}
    mine = f"/service/subscriptions/{document['id']}"
    assert client.get(mine, **bearer(lender_token)).status_code == 404
    assert client.delete(mine, **bearer(lender_token)).status_code == 404
    assert client.get(mine, **bearer(agent_token)).json() == document

    assert client.delete(mine, **bearer(agent_token)).status_code == 204
    assert not Subscription.objects.exists()
    audited = AuditEvent.objects.filter(action__startswith="subscription.").order_by("at", "pk")
    actions = list(audited.values_list("action", "actor"))
    assert [a for a, _ in actions] == ["subscription.created", "subscription.deleted"]
    assert all(actor.startswith("participant:") for _, actor in actions)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["status.changed"]}, "url"),
        ({"url": "https://hooks.example.in/ocen"}, "events"),
        ({"url": "https://hooks.example.in/ocen", "events": []}, "events"),
        ({"url": "https://hooks.example.in/ocen", "events": "status.changed"}, "events"),
        ({"url": "https://hooks.example.in/ocen", "events": ["status.changed", "everything"]}, "events"),
        ({"url": "ftp://hooks.example.in/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "http://hooks.example.in/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://user:pw@hooks.example.in/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://10.1.2.3/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data", "events": ["status.changed"]}, "url"),
        ({"url": "https://[::ffff:192.168.0.1]/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://[fd00::1]/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://[64:ff9b::a9fe:a9fe]/ocen", "events": ["status.changed"]}, "url"),  # NAT64 of 169.254/16
        ({"url": "https://[64:ff9b:1::a9fe:a9fe]/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://[2002:a9fe:a9fe::]/ocen", "events": ["status.changed"]}, "url"),  # 6to4
        ({"url": "https://[2001:0:a9fe:a9fe::]/ocen", "events": ["status.changed"]}, "url"),  # Teredo
        ({"url": "https://[::127.0.0.1]/ocen", "events": ["status.changed"]}, "url"),  # IPv4-compatible
        ({"url": "https://[::ffff:0:a9fe:a9fe]/ocen", "events": ["status.changed"]}, "url"),  # SIIT
        ({"url": "https://2130706433/ocen", "events": ["status.changed"]}, "url"),  # 127.0.0.1 as a number
        ({"url": "https://localhost/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://hooks.example.in:99999/ocen", "events": ["status.changed"]}, "url"),
        ({"url": "https://" + "a" * 500 + ".in/", "events": ["status.changed"]}, "url"),
        ({"url": 42, "events": ["status.changed"]}, "url"),
    ],
)
def test_a_bad_subscription_is_a_clear_400_and_writes_nothing(client, agent_token, settings, body, field):
    settings.OCEN_ALLOW_LOOPBACK_HTTP = False
    response = client.post("/service/subscriptions", body, content_type="application/json", **bearer(agent_token))
    assert response.status_code == 400, response.content
    assert response.json()["errorCode"] == "BAD_REQUEST" and field in response.json()["message"]
    assert not Subscription.objects.exists() and not AuditEvent.objects.filter(action="subscription.created").exists()


def test_a_body_that_is_not_an_object_is_a_clear_400(client, agent_token):
    for body in ("[]", "null", "not json", '"x"'):
        response = client.post("/service/subscriptions", body, content_type="application/json", **bearer(agent_token))
        assert response.status_code == 400, body
    assert client.post("/service/subscriptions", {}, content_type="application/json").status_code == 401


def test_plain_http_and_loopback_only_while_the_setting_allows_them(client, agent_token, receiver):
    with override_settings(OCEN_ALLOW_LOOPBACK_HTTP=False):
        assert subscribe(client, agent_token, receiver.url).status_code == 400
    assert subscribe(client, agent_token, receiver.url).status_code == 201


def test_the_same_url_twice_is_a_conflict_and_a_participant_holds_at_most_ten(client, agent_token, receiver):
    assert subscribe(client, agent_token, receiver.url).status_code == 201
    again = subscribe(client, agent_token, receiver.url)
    assert again.status_code == 409 and again.json()["errorCode"] == "CONFLICT"
    assert subscribe(client, agent_token, receiver.url.replace("http://", "HTTP://")).status_code == 409
    for n in range(9):
        assert subscribe(client, agent_token, f"{receiver.url}/{n}").status_code == 201
    over = subscribe(client, agent_token, f"{receiver.url}/10")
    assert over.status_code == 400 and "at most 10" in over.json()["message"]
    assert Subscription.objects.count() == 10


def test_each_change_of_a_chosen_type_is_delivered_once_signed_in_order(client, actor, agent_token, lender, receiver):
    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.suspend_participant(participant=lender.participant, actor=actor, reason="regulator's order")
    services.update_organisation(organisation=lender.participant.organisation, actor=actor, website="https://x.in")
    services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("lender-2")), actor=actor
    )
    services.reinstate_participant(participant=lender.participant, actor=actor)

    assert webhooks.deliver.call(str(subscription.pk)) == 3
    events = [verified(client, headers, body) for headers, body in receiver.deliveries]
    assert [e["type"] for e in events] == ["status.changed", "keys.changed", "status.changed"]  # not the website
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert {e["objectId"] for e in events} == {str(lender.participant.pk)}
    assert (
        events[-1]["record"]
        == client.get(f"/service/participant-roles/{lender.participant.pk}", **bearer(agent_token)).json()
    )
    assert [h["x-ocen-event-id"] for h, _ in receiver.deliveries] == [e["id"] for e in events]

    assert webhooks.deliver.call(str(subscription.pk)) == 0  # nothing twice once taken
    subscription.refresh_from_db()
    assert subscription.delivered_seq >= events[-1]["seq"] and subscription.attempts == 0


def test_a_failed_delivery_backs_off_then_comes_again_with_the_same_id(client, actor, agent_token, lender, receiver):
    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.suspend_participant(participant=lender.participant, actor=actor, reason="first")
    receiver.status = 503

    assert webhooks.deliver.call(str(subscription.pk)) == 0
    subscription.refresh_from_db()
    assert subscription.attempts == 1 and subscription.last_error == "HTTP 503"
    assert subscription.next_attempt_at > timezone.now() - dt.timedelta(seconds=1)
    assert webhooks.deliver.call(str(subscription.pk)) == 0 and len(receiver.attempts) == 1  # backing off

    receiver.status = 200
    Subscription.objects.filter(pk=subscription.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver.call(str(subscription.pk)) == 1
    (failed, _), (taken, _) = receiver.attempts
    assert failed["x-ocen-event-id"] == taken["x-ocen-event-id"]
    subscription.refresh_from_db()
    assert (subscription.attempts, subscription.failing_since, subscription.last_error) == (0, None, "")


def test_the_wait_doubles_up_to_its_maximum(settings):
    settings.OCEN_WEBHOOK_BACKOFF_SECONDS, settings.OCEN_WEBHOOK_BACKOFF_MAX_SECONDS = 5, 60
    assert [webhooks.backoff(n).total_seconds() for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_a_subscription_failing_too_long_is_paused_and_audited(client, actor, agent_token, lender, receiver, settings):
    settings.OCEN_WEBHOOK_PAUSE_AFTER_SECONDS = 60
    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.suspend_participant(participant=lender.participant, actor=actor, reason="first")
    receiver.down()
    webhooks.deliver.call(str(subscription.pk))
    Subscription.objects.filter(pk=subscription.pk).update(
        failing_since=timezone.now() - dt.timedelta(seconds=61), next_attempt_at=None
    )
    webhooks.deliver.call(str(subscription.pk))

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAUSED and "Failing since" in subscription.paused_reason
    paused = AuditEvent.objects.get(action="subscription.paused")
    assert paused.actor == "system" and paused.details["subscriptionId"] == str(subscription.pk)
    receiver.up()
    assert webhooks.deliver.call(str(subscription.pk)) == 0  # paused: nothing goes

    services.resume_subscription(subscription=subscription, actor=actor)
    assert webhooks.deliver.call(str(subscription.pk)) == 1  # from where it stopped
    assert AuditEvent.objects.filter(action="subscription.resumed").count() == 1


def test_a_destination_refused_since_subscribing_is_refused_at_delivery_time(
    client, actor, agent_token, lender, receiver
):
    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.suspend_participant(participant=lender.participant, actor=actor, reason="first")
    with override_settings(OCEN_ALLOW_LOOPBACK_HTTP=False):
        assert webhooks.deliver.call(str(subscription.pk)) == 0
    subscription.refresh_from_db()
    assert receiver.attempts == [] and "https" in subscription.last_error


def test_a_name_resolving_to_loopback_is_refused_unless_loopback_is_allowed(settings):
    settings.OCEN_ALLOW_LOOPBACK_HTTP = False
    with pytest.raises(destinations.DestinationRefused, match="not at a public address") as refused:
        destinations.check_url("https://localhost:8443/ocen")
    assert "127.0.0.1" not in str(refused.value)  # the registry's own name resolution is not told
    with pytest.raises(destinations.DestinationRefused, match="does not resolve"):
        destinations.check_url("https://no-such-host.invalid/ocen")
    settings.OCEN_ALLOW_LOOPBACK_HTTP = True
    assert destinations.check_url("https://localhost:8443/ocen")[3] in (["127.0.0.1"], ["::1"], ["127.0.0.1", "::1"])


def test_an_outsider_is_told_of_a_private_product_without_its_record(
    client, actor, lender, kyc_partner, lender_token, receiver
):
    outsider = get_token(client, kyc_partner)
    theirs = Subscription.objects.get(pk=subscribe(client, outsider, receiver.url, ["product.changed"]).json()["id"])
    owners = Subscription.objects.get(
        pk=subscribe(client, lender_token, receiver.url + "/lender", ["product.changed"]).json()["id"]
    )
    product = services.create_product(lender=lender.participant, actor=actor, name="Private Line", is_private=True)
    webhooks.deliver.call(str(theirs.pk))
    webhooks.deliver.call(str(owners.pk))

    records = {e["subscriptionId"]: e["record"] for e in receiver.events()}
    assert records[str(theirs.pk)] is None
    assert records[str(owners.pk)]["id"] == str(product.pk) and records[str(owners.pk)]["isPrivate"] is True


def test_deliveries_to_a_suspended_subscriber_wait_for_its_reinstatement(
    client, actor, agent_token, loan_agent, lender, receiver
):
    subscription = Subscription.objects.get(
        pk=subscribe(client, agent_token, receiver.url, ["keys.changed"]).json()["id"]
    )
    services.suspend_participant(participant=loan_agent.participant, actor=actor, reason="audit")
    services.add_participant_key(
        participant=lender.participant, public_key=public_pem(rsa_key("lender-2")), actor=actor
    )
    assert webhooks.deliver.call(str(subscription.pk)) == 0 and receiver.attempts == []

    services.reinstate_participant(participant=loan_agent.participant, actor=actor)
    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.filter(args_kwargs__args=[str(subscription.pk)]).count()
    assert queued >= 2  # the key's change, and the reinstatement that names the subscriber
    assert webhooks.deliver.call(str(subscription.pk)) == 1
    assert receiver.events()[0]["objectId"] == str(lender.participant.pk)


def test_offboarding_deletes_the_participants_subscriptions(client, actor, agent_token, loan_agent, receiver):
    subscription = subscribe(client, agent_token, receiver.url).json()
    services.offboard_participant(participant=loan_agent.participant, actor=actor, reason="licence cancelled")
    assert not Subscription.objects.exists()
    offboarded = AuditEvent.objects.get(action="participant.offboarded")
    assert offboarded.details["resourceMappingsRemoved"]["subscriptionsRemoved"] == [subscription["id"]]


def test_every_type_can_be_chosen_and_the_feed_names_each_changes_type(client, agent_token, actor, lender, receiver):
    assert subscribe(client, agent_token, receiver.url, ALL_TYPES).json()["events"] == ALL_TYPES
    services.suspend_participant(participant=lender.participant, actor=actor, reason="check")
    changes = client.get("/service/changes?after=0&limit=500", **bearer(agent_token)).json()["changes"]
    assert changes[-1]["type"] == "status.changed"


def test_a_run_finding_another_worker_delivering_comes_back_shortly_instead_of_waiting(
    client, actor, agent_token, lender, receiver
):
    from django.db import connections
    from django_tasks_db.models import DBTaskResult

    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.suspend_participant(participant=lender.participant, actor=actor, reason="first")
    other = connections.create_connection("default")  # another worker's session, holding the delivery lock
    try:
        with _held_by(other, subscription):
            before = DBTaskResult.objects.count()
            assert webhooks.deliver.call(str(subscription.pk)) == 0 and receiver.attempts == []
            [again] = DBTaskResult.objects.order_by("-enqueued_at")[: DBTaskResult.objects.count() - before]
            assert again.run_after > timezone.now() and again.args_kwargs["args"] == [str(subscription.pk)]
    finally:
        other.close()
    assert webhooks.deliver.call(str(subscription.pk)) == 1


def _held_by(connection, subscription):
    """The delivery lock of `subscription`, taken on another database connection (as another worker would)."""
    import contextlib

    @contextlib.contextmanager
    def held():
        key = webhooks.delivery_lock_key(subscription.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [webhooks.DELIVERY_LOCK, key])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [webhooks.DELIVERY_LOCK, key])

    return held()


def test_a_long_backlog_goes_in_runs_that_make_way_for_other_subscriptions(
    client, actor, agent_token, lender, receiver
):
    subscription = Subscription.objects.get(
        pk=subscribe(client, agent_token, receiver.url, ["participant.changed"]).json()["id"]
    )
    for n in range(webhooks.RUN_EVENTS + 5):
        services.update_organisation(
            organisation=lender.participant.organisation, actor=actor, website=f"https://{n}.in"
        )
    assert webhooks.deliver.call(str(subscription.pk)) == webhooks.RUN_EVENTS
    assert webhooks.deliver.call(str(subscription.pk)) == 5
    seqs = [e["seq"] for e in receiver.events()]
    assert seqs == sorted(seqs) and len(set(seqs)) == webhooks.RUN_EVENTS + 5


def test_a_subscription_behind_the_feeds_retention_is_told_to_resync(client, actor, agent_token, lender, receiver):
    from django.core.management import call_command

    from participants.models import Change

    subscription = Subscription.objects.get(pk=subscribe(client, agent_token, receiver.url).json()["id"])
    services.pause_subscription(subscription=subscription, actor=actor, reason="maintenance")
    services.suspend_participant(participant=lender.participant, actor=actor, reason="missed")
    missed = Change.objects.filter(seq__gt=subscription.delivered_seq)
    QuerySet.update(missed, at=timezone.now() - dt.timedelta(days=31))  # aged past retention (the feed refuses updates)
    services.reinstate_participant(participant=lender.participant, actor=actor)
    call_command("trim_changes", stdout=io.StringIO())
    services.resume_subscription(subscription=subscription, actor=actor)

    webhooks.deliver.call(str(subscription.pk))
    resync, *rest = receiver.events()
    assert resync["type"] == "registry.resync" and resync["missedAfter"] == subscription.delivered_seq
    assert resync["seq"] == Change.objects.retention_horizon()
    assert [e["type"] for e in rest] == ["status.changed"] and rest[0]["record"]["status"] == "ACTIVE"
    assert verified(client, *receiver.deliveries[0])["id"] == resync["id"]
