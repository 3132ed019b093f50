"""What every workflow shares: the actor and its audit row, new credentials, input parsing, locks."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.models import get_access_token_model, get_application_model

from .. import keys as keylib
from ..models import (
    AuditEvent,
    Change,
    ChangeKind,
    EventType,
    NetworkMembership,
    Organisation,
    Participant,
    ParticipantKey,
    ProductNetwork,
    Role,
)
from ..remote import client_address
from ..validators import normalise_base_url

CLIENT_SECRET_BYTES = 32  # 256 bits


CLIENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,100}$")  # what Participant.client_id holds; DOT generates 40 of these


AccessToken = get_access_token_model()


Application = get_application_model()


@dataclass(frozen=True)
class Actor:
    """Who performs a registry operation, for the audit trail."""

    label: str
    user: object | None = None
    remote_addr: str | None = None

    @property
    def db_user(self):
        """The acting user as a database row, or None (command line, system)."""
        return self.user if getattr(self.user, "pk", None) else None

    @classmethod
    def from_request(cls, request) -> Actor:
        user = request.user
        return cls(label=user.get_username(), user=user, remote_addr=client_address(request))

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def cli(cls) -> Actor:
        try:
            name = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            name = "unknown"
        return cls(label=f"cli:{name}")

    @classmethod
    def system(cls) -> Actor:
        return cls(label="system")


@dataclass(frozen=True)
class Credentials:
    """A participant with its client secret, which exists in clear only in this object; None for a
    key-only participant (private_key_jwt), which has no secret to show."""

    participant: Participant
    client_secret: str | None

    def as_json(self) -> dict:
        identity = {
            "participantId": str(self.participant.id),
            "orgId": str(self.participant.organisation_id),
            "clientId": self.participant.client_id,
        }
        if self.client_secret is None:
            return {**identity, "clientAuthentication": "private_key_jwt"}
        return {**identity, "clientSecret": self.client_secret}


def audit(actor: Actor, action: str, *, participant=None, organisation=None, **details) -> AuditEvent:
    """Append an audit event, and the change feed's entries for what it changed (feed_entries). Callers pass
    facts only, never secrets or private keys, and audit last, once the rows they change are locked."""
    if participant is not None and organisation is None:
        organisation = participant.organisation
    event = AuditEvent.objects.create(
        actor=actor.label,
        actor_user=actor.db_user,
        remote_addr=actor.remote_addr,
        action=action,
        participant=participant,
        organisation=organisation,
        details=details,
    )
    record_changes(feed_entries(event), event.action)
    return event


def feed_entries(event: AuditEvent) -> set[tuple[str, object]]:
    """The records an audited action changed, as (ChangeKind, id): the change feed's one rule of what changed,
    by the action's area (FEED_RULES); an area not listed (client signals, admin lockouts, signing keys, the
    registry import's summary) changes no record."""
    rule = FEED_RULES.get(event.action.split(".", 1)[0])
    return rule(event) if rule else set()


UNSEEN_ACTIONS = {"participant.secret_rotated", "participant.secret_withdrawn"}  # credentials: no record shows them


def _of_participant(event) -> set:
    """A participant's record, and the networks listing it (a network lists only members that may authenticate),
    or that offboarding took it out of."""
    if event.action in UNSEEN_ACTIONS or not event.participant_id:
        return set()
    joined = NetworkMembership.objects.current().filter(participant_id=event.participant_id)
    left = event.details.get("resourceMappingsRemoved", {}).get("networkMemberships", [])
    networks = {*joined.values_list("network_id", flat=True), *(mapping["networkId"] for mapping in left)}
    return {(ChangeKind.PARTICIPANT, event.participant_id)} | {(ChangeKind.NETWORK, pk) for pk in networks}


def _of_organisation(event) -> set:
    """Its participants' records: each carries its organisation."""
    members = Participant.objects.filter(organisation_id=event.organisation_id).values_list("pk", flat=True)
    return {(ChangeKind.PARTICIPANT, pk) for pk in members}


def _of_product(event) -> set:
    """A product, and its networks: a network answers with its product."""
    product_id = event.details["product"]["productId"]
    networks = ProductNetwork.objects.filter(product_id=product_id).values_list("pk", flat=True)
    return {(ChangeKind.PRODUCT, product_id)} | {(ChangeKind.NETWORK, pk) for pk in networks}


def _of_network(event) -> set:
    """A network, its product and the product's other networks: a private product, and with it every network
    of it, is visible to the members of any of its networks, so joining or leaving one changes who sees
    them all."""
    network_id = event.details["networkId"]
    product = ProductNetwork.objects.filter(pk=network_id).values_list("product_id", flat=True)
    siblings = ProductNetwork.objects.filter(product_id__in=product).values_list("pk", flat=True)
    return (
        {(ChangeKind.NETWORK, network_id)}
        | {(ChangeKind.PRODUCT, pk) for pk in product}
        | {(ChangeKind.NETWORK, pk) for pk in siblings}
    )


FEED_RULES = {
    "participant": _of_participant,
    "key": _of_participant,
    "organisation": _of_organisation,
    "product": _of_product,
    "network": _of_network,
}


# pg_advisory_xact_lock key the change feed's appends take (any constant no other lock uses).
CHANGE_FEED_LOCK = 0x0CE4_F33D


def record_changes(entries, action: str) -> None:
    """Append change feed entries in the caller's transaction, so they commit with the change or not at all.

    Sequence numbers are allocated before commit, so without care a reader of `seq > N` could pass N+1 while
    N committed later. On PostgreSQL every append first takes one transaction-scoped advisory lock, held to
    commit (and released only after the commit is visible): appends are serialised, so entries become
    visible in sequence order and a reader that has seen N has seen every entry below it. SQLite runs one
    writing transaction at a time, which serialises them already.

    The webhook deliveries the entries call for are enqueued in the same transaction (the task queue's rows
    are in this database): they exist if and only if the change committed."""
    rows = [
        Change(kind=kind, object_id=object_id, type=EventType.of(kind, action))
        for kind, object_id in sorted(entries, key=str)
    ]
    if not rows:
        return
    with transaction.atomic():  # the lock and the rows in one transaction, even from autocommit code
        connection = transaction.get_connection()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHANGE_FEED_LOCK])
        Change.objects.bulk_create(rows)
        from authapi import webhooks  # the deliverer signs as the registry: authapi's side

        webhooks.schedule(rows)


def _new_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def create_client(*, organisation: Organisation, role: Role, client_id: str | None = None) -> tuple[Application, str]:
    """A confidential client-credentials OAuth client for a participant role, and its one-time secret."""
    secret = _new_client_secret()
    application = Application(
        name=f"{organisation.name} — {role.label}"[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        redirect_uris="",
    )
    if client_id:
        application.client_id = client_id
    application.save()
    return application, secret


def _parse_key(public_key: str | bytes, now: dt.datetime) -> keylib.ParsedKey:
    try:
        return keylib.parse_public_key(public_key, now=now, key_types=settings.OCEN_PARTICIPANT_KEY_TYPES)
    except keylib.KeyRejected as exc:
        code = "private_key_material" if isinstance(exc, keylib.PrivateKeyMaterial) else "invalid_key"
        raise ValidationError({"public_key": ValidationError(str(exc), code=code)}) from None


def _parse_role(role: str) -> Role:
    try:
        return Role.parse(role)
    except ValueError:
        allowed = ", ".join(Role.values)
        raise ValidationError({"role": f"Unknown role {role!r}. Use one of: {allowed}."}) from None


def _base_url(value: str) -> str:
    try:
        return normalise_base_url(value)
    except ValidationError as exc:
        raise ValidationError({"base_url": exc.messages}) from None


def _key_facts(key: ParticipantKey) -> dict:
    return {"kid": key.kid, "fingerprint": key.fingerprint, "alg": key.alg, "keySize": key.key_size}


def _locked(participant: Participant) -> Participant:
    """Re-read the participant under a row lock, so concurrent operations serialise."""
    return (
        Participant.objects.select_for_update(of=("self",))
        .select_related("organisation", "application")
        .get(pk=participant.pk)
    )


def _refuse_if_final(participant: Participant) -> None:
    """Offboarded and rejected records are final (Participant.is_final): no workflow changes them again."""
    if participant.is_offboarded:
        raise ValidationError("This participant has been offboarded; its record is kept only as a tombstone.")
    if participant.is_rejected:
        raise ValidationError("This application was rejected, which is final; a new application is a new record.")


def _revoke_tokens(participant: Participant) -> int:
    if participant.application_id is None:
        return 0
    _total, per_model = AccessToken.objects.filter(application_id=participant.application_id).delete()
    return per_model.get(AccessToken._meta.label, 0)


def _save_changes(instance, values: dict) -> dict:
    """Set the values that differ, validate and save; returns what changed (nothing is saved if nothing did)."""
    changed = {name: value for name, value in values.items() if getattr(instance, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
    return changed
