"""Participant keys: adding, the primary-key switch, retiring and revoking."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .. import keys as keylib
from .. import wire
from ..models import (
    AuditAction,
    KeyStatus,
    Participant,
    ParticipantKey,
)
from .common import Actor, _key_facts, _locked, _parse_key, audit, refuse


def _lock_fingerprint(fingerprint: str) -> None:
    """Serialise registrations of one public key until the transaction ends, so "one key, one
    organisation" holds between concurrent onboardings (PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(fingerprint[:15], 16)])


def _create_key(
    participant: Participant,
    parsed: keylib.ParsedKey,
    now: dt.datetime,
    valid_until: dt.datetime | None = None,
    *,
    primary_from: dt.datetime | None = None,
) -> ParticipantKey:
    _lock_fingerprint(parsed.fingerprint)
    elsewhere = (
        ParticipantKey.objects.filter(fingerprint=parsed.fingerprint)
        .exclude(participant__organisation_id=participant.organisation_id)
        .select_related("participant__organisation")
        .first()
    )
    if elsewhere is not None:
        raise ValidationError(
            {
                "public_key": f"This key is registered to another organisation ({elsewhere.participant.organisation}): "
                "a key identifies one organisation. Ask for a key of this organisation's own."
            }
        )
    if participant.keys.filter(kid=parsed.kid).exists():
        raise ValidationError({"public_key": f"This participant already has a key with kid {parsed.kid!r}."})
    if participant.keys.filter(fingerprint=parsed.fingerprint).exists():
        raise ValidationError({"public_key": "This key is already registered for this participant."})
    try:
        with transaction.atomic():
            return ParticipantKey.objects.create(
                participant=participant,
                kid=parsed.kid,
                jwk=parsed.jwk,
                key_type=parsed.key_type,
                alg=parsed.alg,
                key_size=parsed.key_size,
                fingerprint=parsed.fingerprint,
                cert_subject=parsed.cert_subject,
                cert_issuer=parsed.cert_issuer,
                cert_serial=parsed.cert_serial,
                valid_from=parsed.not_before or now,
                valid_until=min(filter(None, (parsed.not_after, keylib.expiry(valid_until))), default=None),
                primary_from=primary_from,
            )
    except IntegrityError:
        raise ValidationError({"public_key": "This key is already registered for this participant."}) from None


@transaction.atomic
def add_participant_key(
    *,
    participant: Participant,
    public_key: str | bytes,
    actor: Actor,
    valid_until: dt.datetime | None = None,
    primary_from: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ParticipantKey:
    """Register another public key (for rotation with overlap): it is ACTIVE and published at once in
    publicKeys, for verifiers that read the set, and becomes the participant's primary key (the one
    publicKey names) at `primary_from` (now, or a time to come; see promote_participant_key) — or only
    when promoted. `valid_until` is an end the key carries from elsewhere (an imported record), when its
    own input (a JWK) cannot say it."""
    now = now or timezone.now()
    parsed = _parse_key(public_key, now)
    valid_until = keylib.expiry(valid_until)
    if valid_until is not None and valid_until <= now:
        raise ValidationError({"valid_until": "A key's validity cannot end before it is registered."})
    _refuse_switch_in_the_past(primary_from, now)
    participant = _locked(participant)
    refuse(participant.change_refused())
    key = _create_key(participant, parsed, now, valid_until, primary_from=primary_from)
    audit(
        actor,
        AuditAction.KEY_ADDED,
        participant=participant,
        key=_key_facts(key),
        primaryFrom=wire.rfc3339(primary_from),
    )
    return key


def _refuse_switch_in_the_past(moment: dt.datetime | None, now: dt.datetime) -> None:
    if moment is not None and moment < now - SWITCH_TOLERANCE:
        raise ValidationError({"primary_from": "A switch of primary key is now or later, not in the past."})


SWITCH_TOLERANCE = dt.timedelta(seconds=5)  # "now" typed by an operator arrives a moment later


@transaction.atomic
def promote_participant_key(
    *, participant: Participant, kid: str, actor: Actor, at: dt.datetime | None = None
) -> ParticipantKey:
    """Make an ACTIVE key the participant's primary key (the one publicKey names) now, or schedule it for
    `at`. Until then its record's Cache-Control max-age never runs past the switch, so providers that read
    only publicKey (the OCEN reference client) refetch exactly then. The old primary stays ACTIVE — it
    still verifies for verifiers that read publicKeys — until it is retired."""
    now = timezone.now()
    at = at or now
    _refuse_switch_in_the_past(at, now)
    participant = _locked(participant)
    refuse(participant.change_refused())
    key = participant.keys.filter(kid=kid).first()
    if key is None:
        raise ValidationError({"kid": f"{participant} has no key {kid!r}."})
    key = _locked_key(key)
    refuse(key.promotion_refused(participant.keys.all(), now), "kid")
    key.primary_from = max(at, now)
    key.save(update_fields=["primary_from"])
    audit(
        actor,
        AuditAction.KEY_PRIMARY_SCHEDULED if at > now else AuditAction.KEY_PROMOTED,
        participant=participant,
        key=_key_facts(key),
        primaryFrom=wire.rfc3339(key.primary_from),
    )
    return key


def _locked_key(key: ParticipantKey) -> ParticipantKey:
    return (
        ParticipantKey.objects.select_for_update(of=("self",))
        .select_related("participant__organisation")
        .get(pk=key.pk)
    )


@transaction.atomic
def retire_key(*, key: ParticipantKey, actor: Actor, now: dt.datetime | None = None) -> ParticipantKey:
    """Stop using a key for new signatures; it still verifies for the retirement grace period."""
    now = now or timezone.now()
    _locked(key.participant)
    key = _locked_key(key)
    refuse(key.retirement_refused(list(key.participant.keys.all()), now))
    grace_end = now + dt.timedelta(seconds=settings.OCEN_KEY_RETIREMENT_GRACE)
    key.status = KeyStatus.RETIRED
    key.retired_at = now
    key.valid_until = max(min(key.valid_until or grace_end, grace_end), key.valid_from + dt.timedelta(seconds=1))
    key.save(update_fields=["status", "retired_at", "valid_until"])
    audit(
        actor,
        AuditAction.KEY_RETIRED,
        participant=key.participant,
        key=_key_facts(key),
        validUntil=wire.rfc3339(key.valid_until),
    )
    return key


def _named_key(participant: Participant, keys, kid: str | None) -> ParticipantKey | None:
    if not kid:
        return None
    named = next((k for k in keys if k.kid == kid), None)
    if named is None:
        raise ValidationError({"successor": f"{participant} has no key {kid!r}."})
    return named


@transaction.atomic
def revoke_key(
    *, key: ParticipantKey, actor: Actor, reason: str, successor_kid: str | None = None, now: dt.datetime | None = None
) -> ParticipantKey:
    """Mark a key compromised or withdrawn: no signature by it verifies any more. Kept for the record. The primary
    key (publicKey) is revoked only with `successor_kid`, the key made primary in its place in the same
    transaction."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the key is revoked (for the audit trail)."})
    participant = _locked(key.participant)
    key = _locked_key(key)
    keys = list(participant.keys.all())
    successor = _named_key(participant, keys, successor_kid)
    refuse(key.revocation_refused(keys, now, successor))
    if successor is not None:
        successor.primary_from = now
        successor.save(update_fields=["primary_from"])
    key.status = KeyStatus.REVOKED
    key.revoked_at = now
    key.revocation_reason = reason[:500]
    key.save(update_fields=["status", "revoked_at", "revocation_reason"])
    audit(
        actor,
        AuditAction.KEY_REVOKED,
        participant=key.participant,
        key=_key_facts(key),
        reason=reason,
        **({"successor": _key_facts(successor)} if successor else {}),
    )
    return key
