"""
Signed webhook deliveries (issue 16): each subscription is sent the feed's changes of the types it chose, one
signed event per change, in sequence order, at least once.

A subscription's cursor (`delivered_seq`) moves past a change only once the receiver answered 2xx, so a
crash or an outage sends that event again, with the same id. One worker at a time delivers for a
subscription (a PostgreSQL advisory lock per subscription, held while it delivers), which keeps its events
in order whichever worker picks the task up. A failure backs off exponentially; a subscription failing for
OCEN_WEBHOOK_PAUSE_AFTER_SECONDS is paused and audited. Deliveries to a suspended subscriber are held until
it is reinstated; an offboarded participant's subscriptions are deleted with its other resource mappings.

Which subscriptions have events due is the domain's to say (participants/changes.py signals deliveries_due in
the transaction of the change; on_deliveries_due enqueues their runs). Receivers' addresses follow
participants/destinations.py's rule, checked again before every delivery, whose connection goes to the very
address that was checked (no redirects followed).
"""

import datetime as dt
import hashlib
import http.client
import logging
import socket
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import urllib3
import urllib3.connection
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tasks import task

from participants.destinations import DestinationRefused, check_url
from participants.models import Change, Subscription, SubscriptionStatus
from participants.wire import rfc3339

from . import signing
from .middleware import SIGNATURE_HEADER
from .records import Records
from .representations import encode

logger = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("5e0c7d1e-0ce4-4f33-9d00-00000000a001")  # event ids: uuid5(this, "subscription:seq")
DELIVERY_LOCK = 0x0CE4_DE11  # pg_advisory_lock class of the per-subscription delivery lock
RUN_EVENTS = 50  # events one delivery run sends before making way for other subscriptions' runs (or RUN_SECONDS)
LOCKED_RETRY = dt.timedelta(seconds=1)  # when another worker is delivering to the subscription
RESYNC = "registry.resync"
USER_AGENT = "OCEN-Registry-Webhooks/1"


# --- events ---------------------------------------------------------------------------------------------------


def event_id(subscription_id, mark) -> str:
    """The same id every time this change (`mark`: its seq) is delivered to this subscription: receivers
    deduplicate by it."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{subscription_id}:{mark}"))


def event_of(subscription: Subscription, change: Change) -> dict:
    """The event for a change: what changed, and its record as the lookups answer the subscriber now (null when
    it may no longer see it), like the feed's entries."""
    record = Records(subscription.participant_id).of(change.kind, [change.object_id]).get(change.object_id)
    return {
        "id": event_id(subscription.pk, change.seq),
        "type": change.type,
        "seq": change.seq,
        "kind": change.kind,
        "objectId": str(change.object_id),
        "occurredAt": rfc3339(change.at),
        "subscriptionId": str(subscription.pk),
        "record": record,
    }


def post(url: str, body: bytes, headers: dict) -> None:
    """POST to the receiver at the address just checked (the name is checked again now, so an address
    that changed since subscribing is refused too), without following redirects, within
    OCEN_WEBHOOK_TIMEOUT_SECONDS for the whole exchange: connecting, sending and the answer's status line and
    headers (a receiver trickling its answer a byte at a time is cut off then, not at each read's timeout).
    Raises on anything but a 2xx answer in time."""
    scheme, host, port, addresses = check_url(url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = settings.OCEN_WEBHOOK_TIMEOUT_SECONDS
    exchange = _connection(scheme, host, addresses[0], port, deadline)
    named = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets (RFC 9110 7.2)
    host_header = named if parts.port is None else f"{named}:{port}"
    cut_off = threading.Event()
    timer = threading.Timer(deadline, _cut_off, [exchange, cut_off])
    timer.start()
    try:
        exchange.request("POST", target, body=body, headers={**headers, "Host": host_header}, preload_content=False)
        status = exchange.getresponse().status
    except (http.client.HTTPException, urllib3.exceptions.HTTPError, OSError) as exc:
        if cut_off.is_set():
            raise DeliveryFailed(f"No answer within {deadline:g} s (OCEN_WEBHOOK_TIMEOUT_SECONDS).") from None
        if isinstance(exc, http.client.HTTPException):
            raise DeliveryFailed(f"The receiver's answer is not HTTP ({type(exc).__name__}).") from None
        raise
    finally:
        timer.cancel()
        exchange.close()
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")


def _connection(scheme: str, host: str, address: str, port: int, timeout: float):
    """A connection to `address`, the one checked, speaking TLS for `host` when the URL is https."""
    if scheme == "https":
        return urllib3.connection.HTTPSConnection(
            address, port, timeout=timeout, server_hostname=host, assert_hostname=host
        )
    return urllib3.connection.HTTPConnection(address, port, timeout=timeout)


def _cut_off(exchange, cut_off: threading.Event) -> None:
    """The deadline passed: end the exchange wherever it is (a blocked read returns at once)."""
    cut_off.set()
    sock = exchange.sock
    if sock is not None:
        with suppress(OSError):  # closed already
            sock.shutdown(socket.SHUT_RDWR)


class DeliveryFailed(Exception):
    pass


# --- the worker's side ----------------------------------------------------------------------------------------


def on_deliveries_due(sender, subscription_ids, **kwargs) -> None:
    """participants.changes.deliveries_due's receiver (connected in AuthapiConfig.ready): a delivery run for each
    subscription with events due, enqueued in the transaction that made them due."""
    for pk in subscription_ids:
        deliver.enqueue(pk)


@task()
def deliver(subscription_id: str) -> int:
    """Deliver a subscription's pending events, in order, until none is left, one fails, or RUN_EVENTS went
    (then the rest in a run of its own, after other subscriptions' turns). Returns how many were delivered."""
    with delivery_lock(subscription_id) as held:
        if not held:  # another worker is delivering to it: look again shortly rather than wait for a slow receiver
            deliver.using(run_after=timezone.now() + LOCKED_RETRY).enqueue(subscription_id)
            return 0
        subscription = Subscription.objects.filter(pk=subscription_id).select_related("participant").first()
        if subscription is None or subscription.status != SubscriptionStatus.ACTIVE:
            return 0
        if not subscription.participant.can_authenticate:
            return 0  # held while the subscriber is suspended: it may not read the registry then
        if subscription.backing_off(timezone.now()):
            return 0  # the retry already scheduled comes at its time
        delivered, more = _deliver_pending(subscription)
    if more:
        deliver.using(run_after=timezone.now()).enqueue(subscription_id)
    return delivered


def run_seconds() -> float:
    """How long one delivery run may go on before it makes way for other subscriptions' runs: one receiver's
    deadline, so a receiver that answers slowly (in time, every time) delays the others by at most that."""
    return settings.OCEN_WEBHOOK_TIMEOUT_SECONDS


def _deliver_pending(subscription: Subscription) -> tuple[int, bool]:
    """(events delivered, whether more are pending)."""
    if not _past_gap(subscription):
        return 0, False
    delivered, ends = 0, time.monotonic() + run_seconds()
    while delivered < RUN_EVENTS:
        newest = Change.objects.newest()  # every entry up to it has committed (participants.changes.append)
        batch = list(
            Change.objects.after(subscription.delivered_seq)
            .filter(seq__lte=newest, type__in=subscription.events)
            .only("seq", "kind", "object_id", "type", "at")[: RUN_EVENTS - delivered]
        )
        for change in batch:
            if not _send(subscription, event_of(subscription, change)):
                return delivered, False
            delivered += 1
            if time.monotonic() >= ends:
                return delivered, True  # its turn is over: the rest in a run of its own, after the others
        if delivered < RUN_EVENTS:
            _advance(subscription, newest)  # past the changes of other types too
            if Change.objects.newest() == newest:
                return delivered, False
    return delivered, True


def _past_gap(subscription: Subscription) -> bool:
    """A subscription whose cursor fell behind the feed's retention (paused, or its subscriber suspended, for
    longer) cannot be sent what it missed: it is sent a `registry.resync` event (take a snapshot, or read the
    participants you care about again) and goes on from the oldest change kept. False if that failed."""
    horizon = Change.objects.retention_horizon()
    if subscription.delivered_seq >= horizon:
        return True
    resync = {
        "id": event_id(subscription.pk, f"resync:{horizon}"),
        "type": RESYNC,
        "seq": horizon,
        "kind": "registry",
        "objectId": str(subscription.pk),
        "occurredAt": rfc3339(timezone.now()),
        "subscriptionId": str(subscription.pk),
        "record": None,
        "missedAfter": subscription.delivered_seq,
    }
    return _send(subscription, resync)


def _send(subscription: Subscription, event: dict) -> bool:
    """POST one event, signed; on a 2xx the cursor moves to its seq, else the failure is recorded."""
    body = encode(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signing.sign_detached(body),
        "X-OCEN-Event-Id": event["id"],
        "X-OCEN-Event-Type": event["type"],
    }
    try:
        post(subscription.url, body, headers)
    except (DestinationRefused, DeliveryFailed, urllib3.exceptions.HTTPError, OSError) as exc:
        _failed(subscription, _reason(exc))
        return False
    _advance(subscription, event["seq"])
    return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, DestinationRefused | DeliveryFailed):
        return str(exc)[:300]
    return f"{type(exc).__name__}: the receiver could not be reached"


def _advance(subscription: Subscription, seq: int) -> None:
    if seq <= subscription.delivered_seq and not subscription.attempts:
        return
    subscription.delivered_seq = max(seq, subscription.delivered_seq)
    subscription.delivered_at = timezone.now()
    subscription.failing_since, subscription.attempts, subscription.next_attempt_at = None, 0, None
    subscription.last_error = ""
    subscription.save(
        update_fields=["delivered_seq", "delivered_at", "failing_since", "attempts", "next_attempt_at", "last_error"]
    )


def backoff(attempts: int) -> dt.timedelta:
    """The wait before attempt `attempts` + 1: OCEN_WEBHOOK_BACKOFF_SECONDS doubled each time, at most
    OCEN_WEBHOOK_BACKOFF_MAX_SECONDS."""
    seconds = settings.OCEN_WEBHOOK_BACKOFF_SECONDS * 2 ** min(attempts - 1, 30)
    return dt.timedelta(seconds=min(seconds, settings.OCEN_WEBHOOK_BACKOFF_MAX_SECONDS))


def _failed(subscription: Subscription, reason: str) -> None:
    """Record a failed attempt and schedule the next; pause (audited) once it has failed for long enough."""
    from participants import services

    now = timezone.now()
    subscription.failing_since = subscription.failing_since or now
    subscription.attempts += 1
    subscription.last_error = reason
    if now - subscription.failing_since >= dt.timedelta(seconds=settings.OCEN_WEBHOOK_PAUSE_AFTER_SECONDS):
        services.pause_subscription(
            subscription=subscription,
            actor=services.Actor.system(),
            reason=f"Failing since {rfc3339(subscription.failing_since)}: {reason}",
        )
        return
    subscription.next_attempt_at = now + backoff(subscription.attempts)
    subscription.save(update_fields=["failing_since", "attempts", "last_error", "next_attempt_at"])
    deliver.using(run_after=subscription.next_attempt_at).enqueue(str(subscription.pk))
    logger.info("webhook delivery failed: subscription=%s attempts=%s", subscription.pk, subscription.attempts)


@contextmanager
def delivery_lock(subscription_id: str):
    """One deliverer per subscription at a time, across workers and machines: a session advisory lock on
    PostgreSQL, tried, not waited for; yields whether it is held (a run that finds it taken comes back
    shortly, so it still sees a change committed as the other run finished). SQLite (the quickstart, one
    worker) needs none."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = delivery_lock_key(subscription_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DELIVERY_LOCK, key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [DELIVERY_LOCK, key])


def delivery_lock_key(subscription_id) -> int:
    """The advisory lock's second key for a subscription (with DELIVERY_LOCK): 32 bits of its id's hash (two
    subscriptions that share one merely take turns)."""
    return int.from_bytes(hashlib.sha256(str(subscription_id).encode()).digest()[:4], "big", signed=True)
