"""Webhook subscriptions: a participant's own (the API), paused and resumed by administrators (the admin) or by
the deliverer when one keeps failing (authapi/webhooks.py, which also delivers what changes.deliveries_due says)."""

from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from .. import changes
from ..destinations import DestinationRefused, check_url
from ..models import AuditAction, Change, EventType, Participant, Subscription, SubscriptionStatus
from .common import Actor, audit, refuse


def _facts(subscription: Subscription) -> dict:
    return {"subscriptionId": str(subscription.pk), "url": subscription.url, "events": subscription.events}


def clean_events(events) -> list[str]:
    """The event types asked for: a non-empty list of EventType values, each once, in their documented order."""
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise ValidationError({"events": f"A non-empty list of event types: {', '.join(EventType.values)}."})
    unknown = sorted(set(events) - set(EventType.values))
    if unknown:
        raise ValidationError(
            {"events": f"Unknown event types {', '.join(unknown)}; known: {', '.join(EventType.values)}."}
        )
    return [value for value in EventType.values if value in events]


def clean_url(url) -> str:
    """A receiver URL the deliverer will call, with its scheme and host in lower case (so one receiver is one
    subscription) and no empty query or fragment."""
    url = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and not parts.fragment:
        netloc = parts.netloc.rsplit("@", 1)
        netloc[-1] = netloc[-1].lower()
        url = urlunsplit((parts.scheme.lower(), "@".join(netloc), parts.path, parts.query, ""))
    try:
        if len(url) > 500:
            raise ValidationError("too long")
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise ValidationError({"url": "An absolute https URL, at most 500 characters."}) from None
    try:
        check_url(url)
    except DestinationRefused as refused:
        raise ValidationError({"url": str(refused)}) from None
    return url


@transaction.atomic
def subscribe(*, participant: Participant, url, events, actor: Actor) -> Subscription:
    """A new subscription, taking the changes made from now on (a participant catching up reads the feed)."""
    events = clean_events(events)
    url = clean_url(url)
    Participant.objects.select_for_update().filter(pk=participant.pk).first()  # one count at a time per participant
    if participant.subscriptions.count() >= Subscription.MAX_PER_PARTICIPANT:
        raise ValidationError(f"A participant may hold at most {Subscription.MAX_PER_PARTICIPANT} subscriptions.")
    if participant.subscriptions.filter(url=url).exists():
        raise ValidationError({"url": ValidationError("Already subscribed at this URL.", code="duplicate")})
    subscription = Subscription.objects.create(
        participant=participant, url=url, events=events, delivered_seq=Change.objects.newest()
    )
    audit(actor, AuditAction.SUBSCRIPTION_CREATED, participant=participant, **_facts(subscription))
    return subscription


@transaction.atomic
def unsubscribe(*, subscription: Subscription, actor: Actor) -> None:
    audit(actor, AuditAction.SUBSCRIPTION_DELETED, participant=subscription.participant, **_facts(subscription))
    subscription.delete()


@transaction.atomic
def pause_subscription(*, subscription: Subscription, actor: Actor, reason: str) -> Subscription:
    """No more deliveries until resumed; what it has not received stays pending (its cursor stays)."""
    if not (reason or "").strip():
        raise ValidationError("Pausing a subscription needs a reason.")
    refuse(Subscription.objects.select_for_update().get(pk=subscription.pk).pause_refused())
    Subscription.objects.filter(pk=subscription.pk).update(  # the delivery fields stay the worker's
        status=SubscriptionStatus.PAUSED, paused_at=timezone.now(), paused_reason=reason[:300], next_attempt_at=None
    )
    subscription.refresh_from_db()
    audit(
        actor,
        AuditAction.SUBSCRIPTION_PAUSED,
        participant=subscription.participant,
        reason=reason,
        **_facts(subscription),
    )
    return subscription


@transaction.atomic
def resume_subscription(*, subscription: Subscription, actor: Actor) -> Subscription:
    """Deliveries start again from where they stopped, at once."""
    refuse(Subscription.objects.select_for_update().get(pk=subscription.pk).resume_refused())
    Subscription.objects.filter(pk=subscription.pk).update(
        status=SubscriptionStatus.ACTIVE,
        paused_at=None,
        paused_reason="",
        failing_since=None,
        attempts=0,
        next_attempt_at=None,
    )
    subscription.refresh_from_db()
    audit(actor, AuditAction.SUBSCRIPTION_RESUMED, participant=subscription.participant, **_facts(subscription))
    changes.delivery_due(subscription)
    return subscription
