"""Announcing a change: what an audited action changed in the published records, appended to the change feed in
the action's own transaction, the freshness stamp (updatedOn) of every participant it names moved, and the
webhook deliveries it makes due signalled (deliveries_due) for the HTTP side, which sends them.

The domain never calls the deliverer: it says which subscriptions have something to deliver, in the same
transaction as the change, and authapi's receiver enqueues their runs (rows of the task queue, in this database),
so a delivery is due if and only if the change committed."""

from django.db import transaction
from django.dispatch import Signal

from .models import (
    AuditEvent,
    Change,
    ChangeKind,
    EventType,
    NetworkMembership,
    Participant,
    ProductNetwork,
    Subscription,
)

# Sent in the transaction that made them due, with `subscription_ids` (str): the subscriptions with events to
# deliver. authapi.webhooks enqueues a delivery run for each.
deliveries_due = Signal()

# pg_advisory_xact_lock key the change feed's appends take (any constant no other lock uses).
CHANGE_FEED_LOCK = 0x0CE4_F33D


def announce(event: AuditEvent) -> list[Change]:
    """Announce what the audited `event` changed: feed entries, updatedOn moved, deliveries due. Returns the
    entries appended (none for an action that changes no published record)."""
    records = changed_records(event)
    named = {object_id for kind, object_id in records if kind == ChangeKind.PARTICIPANT}
    with transaction.atomic():  # entries, stamps and the deliveries due together, even from autocommit code
        if named:
            Participant.objects.filter(pk__in=named).republished(event.at)
            if event.participant is not None and event.participant.pk in named:
                event.participant.updated_at = event.at  # the caller's row says what the database now says
        changes = append(records, event)
        if changes:
            _deliveries_due(changes)
    return changes


def changed_records(event: AuditEvent) -> set[tuple[str, object]]:
    """The records an audited action changed, as (ChangeKind, id): the change feed's one rule of what changed,
    by the action's event type (AuditAction.event_type; None changes no record)."""
    event_type = event.action_type.event_type
    if event_type is None:
        return set()
    if event_type == EventType.PRODUCT:
        return _of_product(event)
    if event_type == EventType.NETWORK:
        return _of_network(event)
    return _of_participant(event) if event.participant_id else _of_organisation(event)


def _of_participant(event) -> set:
    """A participant's record, and the networks listing it (a network lists only members that may authenticate),
    or that offboarding took it out of."""
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


def event_type(kind: str, event: AuditEvent) -> EventType:
    """The feed type of the change `event` made to a record of `kind`: a product's or a network's, or for a
    participant's record what its action says (AuditAction.event_type)."""
    if kind == ChangeKind.PRODUCT:
        return EventType.PRODUCT
    if kind == ChangeKind.NETWORK:
        return EventType.NETWORK
    return event.action_type.event_type


def append(records, event: AuditEvent) -> list[Change]:
    """Append change feed entries in the caller's transaction, so they commit with the change or not at all.

    Sequence numbers are allocated before commit, so without care a reader of `seq > N` could pass N+1 while
    N committed later. On PostgreSQL every append first takes one transaction-scoped advisory lock, held to
    commit (and released only after the commit is visible): appends are serialised, so entries become
    visible in sequence order and a reader that has seen N has seen every entry below it. SQLite runs one
    writing transaction at a time, which serialises them already."""
    rows = [
        Change(kind=kind, object_id=object_id, type=event_type(kind, event))
        for kind, object_id in sorted(records, key=str)
    ]
    if not rows:
        return rows
    with transaction.atomic():  # the lock and the rows in one transaction, even from autocommit code
        connection = transaction.get_connection()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHANGE_FEED_LOCK])
        Change.objects.bulk_create(rows)
    return rows


def _deliveries_due(changes: list[Change]) -> None:
    """The active subscriptions that take one of these changes' types, or whose participant they name (a
    reinstated subscriber's held events go now)."""
    named = {change.object_id for change in changes if change.kind == ChangeKind.PARTICIPANT}
    due = Subscription.objects.wanting({change.type for change in changes}, participants=named)
    if due:
        deliveries_due.send(sender=Subscription, subscription_ids=[str(pk) for pk in due])


def delivery_due(subscription: Subscription) -> None:
    """One subscription has events to deliver now (resumed by an administrator)."""
    deliveries_due.send(sender=Subscription, subscription_ids=[str(subscription.pk)])
