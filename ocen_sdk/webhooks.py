"""The registry's webhook deliveries, seen from the receiving participant: one call checks an event.

    event = verify_event(request_body, request_headers, RegistryKeys(issuer))
    if seen(event["id"]): return 200         # deliveries come at least once: the id is the same each time
    mirror.nudge()                            # or act on event["type"], event["record"] …

Each event is a JSON object (`id`, `type`, `seq`, `kind`, `objectId`, `occurredAt`, `subscriptionId`, `record`)
signed by the registry like its answers (detached JWS in x-jws-signature, verifiable from its JWKS). Events
of one subscription arrive in `seq` order; answer 2xx once it is taken, anything else makes the registry
try again later. `record` is the record as the registry answered it when the event was sent, not when the
change was made: a late delivery of a suspension may carry the record of a participant reinstated since.
Act on the newest record, or look it up. An event of type `registry.resync` (with `missedAfter`) says the
subscription fell behind the change feed's retention and events were lost: take a snapshot (or look up the
participants you hold) again."""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict, TypeGuard

from .errors import VerificationError
from .registry import KeySource, verify_registry_signature
from .verifier import Headers, _header

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


def verify_event(body: bytes, headers: Headers, keys: KeySource) -> RegistryEvent:
    """The event a delivery carries, once the registry's signature over its exact bytes verifies with `keys`
    (RegistryKeys, or a mirror's keys); VerificationError(reason) otherwise."""
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
    return event


def _is_event(value: object) -> TypeGuard[RegistryEvent]:
    return isinstance(value, dict) and all(isinstance(value.get(k), t) for k, t in EVENT_MEMBERS.items())
