"""
How registry data looks on the wire, in one place: the time format, the role spelling and a key's JWK
forms. The API's documents (authapi/representations.py), the signature checks, the management
commands' JSON and the registry export all use these, so a reader and a verifier meet one shape.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import (
    REFERENCE_ROLES,
    ROLE_ALIASES,
    KeyStatus,
    OperationalStatus,
    Role,
    next_primary_switch,
    primary_key,
)

REFERENCE_SPELLING = {role: alias for alias, role in ROLE_ALIASES.items()}


def rfc3339(moment: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds and `Z`: 2026-11-27T10:00:00.000Z."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wire_role(role: str) -> str:
    """A role as this registry spells it on the wire (OCEN_ROLE_SPELLING): its own names, or the OCEN
    reference client's enum (DERIVED_DATA_PROVIDER). Input accepts both always (Role.parse)."""
    if settings.OCEN_ROLE_SPELLING == "reference":
        return REFERENCE_SPELLING.get(role, role)
    return role


def wire_roles() -> list[str]:
    """The roles the wire names (a network listing's keys): all of them, or under the reference spelling
    those of the reference client's enum, which refuses any other."""
    roles = REFERENCE_ROLES if settings.OCEN_ROLE_SPELLING == "reference" else Role.values
    return [wire_role(role) for role in roles]


def public_jwk(key) -> dict:
    """A participant key as a public JWK with what a verifier needs to use it: kid, use and alg."""
    return {**key.jwk, "kid": key.kid, "use": "sig", "alg": key.alg}


def key_item(key, *, primary: bool = False, withheld: bool = False) -> dict:
    """A key as publicKeys lists it: its public JWK with status and validity window, `primary` for ACTIVE
    keys (and `primaryFrom`, its switch time), `revokedAt` once revoked, and `withheld` while its
    participant is suspended (no verifier may accept its signatures then)."""
    item = {
        **public_jwk(key),
        "status": key.status,
        "validFrom": rfc3339(key.valid_from),
        "validUntil": rfc3339(key.valid_until),
    }
    if key.status == KeyStatus.ACTIVE:
        item["primary"] = primary
        if key.primary_from:
            item["primaryFrom"] = rfc3339(key.primary_from)
    if key.status == KeyStatus.REVOKED:
        item["revokedAt"] = rfc3339(key.revoked_at)
    if withheld:
        item["withheld"] = True
    return item


@dataclass(frozen=True)
class KeyPublication:
    """What the registry publishes of one participant's keys at one moment."""

    items: list[dict]  # publicKeys, newest first
    primary: object | None  # the key publicKey names: None while its keys are withheld, or once offboarded
    switch_at: dt.datetime | None  # the next scheduled switch of primary key: answers must not outlive it


def publication(participant, keys, now: dt.datetime | None = None) -> KeyPublication:
    now = now or timezone.now()
    withheld = participant.keys_withheld
    current = participant.status == OperationalStatus.ACTIVE and not withheld
    primary = primary_key(keys, now) if current else None
    items = [
        key_item(key, primary=key is primary, withheld=withheld)
        for key in sorted(keys, key=lambda k: k.created_at, reverse=True)
    ]
    return KeyPublication(items, primary, next_primary_switch(keys, now) if current else None)
