"""The registry's webhook deliveries, seen from the receiving participant: one call checks an event.

    event = verify_event(request_body, request_headers, RegistryKeys(issuer), subscription_id=MY_SUBSCRIPTION)
    if seen(event["id"]): return 200         # deliveries come at least once: the id is the same each time
    mirror.nudge()                            # or act on event["type"], event["record"] …

Each event is a JSON object (`id`, `type`, `seq`, `kind`, `objectId`, `occurredAt`, `subscriptionId`, `record`)
signed by the registry like its answers (detached JWS in x-jws-signature, verifiable from its JWKS). A signature
alone does not say the delivery is meant for this receiver: any subscriber holds genuine events, and could post
one to another subscriber's URL. So verify_event also requires the event to name this receiver's subscription
(`subscription_id`, the id POST /service/subscriptions answered), and to have occurred at most `max_age` seconds
ago (DEFAULT_MAX_AGE, 300; None turns the check off), so that an old event cannot be played back as news.
Refusals are VerificationError: `subscription_mismatch`, `event_stale`, and those of the signature check.
An event refused as stale may still be genuine (a receiver that was down longer than `max_age`, then sent its
backlog): answer 2xx, so that the registry moves on, and read the record it names again (or nudge the mirror)
rather than act on the copy it carries.

Events of one subscription arrive in `seq` order; answer 2xx once it is taken, anything else makes the registry
try again later. `record` is the record as the registry answered it when the event was sent, not when the
change was made: a late delivery of a suspension may carry the record of a participant reinstated since.
Act on the newest record, or look it up. An event of type `registry.resync` (with `missedAfter`) says the
subscription fell behind the change feed's retention and events were lost: take a snapshot (or look up the
participants you hold) again."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict, TypeGuard

from .errors import VerificationError
from .jws import _parse_instant
from .registry import KeySource, verify_registry_signature
from .verifier import Headers, _canonical_id, _header

EVENT_MEMBERS = {"id": str, "type": str, "seq": int, "kind": str, "objectId": str}


class RegistryEvent(TypedDict):
    """A registry event: the members verify_event checks (EVENT_MEMBERS), and those it passes on unchecked."""

    id: str
    type: str
    seq: int
    kind: str
    objectId: str
    occurredAt: NotRequired[str]
    subscriptionId: NotRequired[str]
    record: NotRequired[dict[str, Any] | None]
    missedAfter: NotRequired[int]  # registry.resync only


DEFAULT_MAX_AGE = 300  # seconds an event may have occurred before it is delivered and checked


def verify_event(
    body: bytes,
    headers: Headers,
    keys: KeySource,
    *,
    subscription_id: str,
    max_age: float | None = DEFAULT_MAX_AGE,
    clock: Callable[[], float] = time.time,
) -> RegistryEvent:
    """The event a delivery carries, once the registry's signature over its exact bytes verifies with `keys`
    (RegistryKeys, or a mirror's keys), it names `subscription_id` (this receiver's subscription), and its
    `occurredAt` is at most `max_age` seconds before `clock()` (seconds since the epoch); VerificationError(reason)
    otherwise."""
    signature = _header(headers, "x-jws-signature")
    if not signature:
        raise VerificationError("signature_missing", "The delivery carries no x-jws-signature header.")
    verify_registry_signature(body, signature, keys)
    try:
        event = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        event = None
    if not _is_event(event):
        raise VerificationError("malformed_body", "The delivery is not a registry event.")
    if event.get("subscriptionId") != _canonical_id(str(subscription_id)):
        raise VerificationError(
            "subscription_mismatch",
            f"The event is for subscription {event.get('subscriptionId')!r}, not this receiver's {subscription_id!r}.",
        )
    if max_age is not None:
        _check_age(event, max_age, clock())
    return event


def _check_age(event: RegistryEvent, max_age: float, now: float) -> None:
    try:
        occurred = _parse_instant(str(event.get("occurredAt")))
        age = now - occurred.timestamp() if occurred.tzinfo is not None else None
    except ValueError:
        age = None
    if age is None:
        raise VerificationError("malformed_body", "The event's occurredAt is not an RFC 3339 time.")
    if age > max_age:
        raise VerificationError(
            "event_stale", f"The event occurred {age:.0f} s ago ({event.get('occurredAt')}), more than {max_age} s."
        )


def _is_event(value: object) -> TypeGuard[RegistryEvent]:
    return isinstance(value, dict) and all(isinstance(value.get(k), t) for k, t in EVENT_MEMBERS.items())
