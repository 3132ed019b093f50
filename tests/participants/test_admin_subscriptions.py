"""Webhook subscriptions in the console: administrators see how each is doing, and pause (with a reason) and
resume it, audited; viewers only see them. Participants make their own over the API."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from participants import services
from participants.models import AuditEvent, Subscription, SubscriptionStatus

CHANGELIST = reverse("admin:participants_subscription_changelist")


@pytest.fixture
def subscription(loan_agent, settings):
    settings.OCEN_ALLOW_LOOPBACK_HTTP = True
    return services.subscribe(
        participant=loan_agent.participant,
        url="http://127.0.0.1:9/ocen/events",
        events=["status.changed"],
        actor=services.Actor.system(),
    )


def test_an_administrator_pauses_with_a_reason_and_resumes(client, registry_admin, subscription):
    client.force_login(registry_admin)
    listing = client.get(CHANGELIST).content.decode()
    assert subscription.url in listing and "status.changed" in listing

    asked = client.post(CHANGELIST, {"action": "pause", ACTION_CHECKBOX_NAME: [subscription.pk]})
    assert "Pause subscriptions" in asked.content.decode()
    assert Subscription.objects.get().status == SubscriptionStatus.ACTIVE  # a confirmation page first
    client.post(
        CHANGELIST,
        {"action": "pause", ACTION_CHECKBOX_NAME: [subscription.pk], "confirmed": "yes", "reason": "receiver abuse"},
    )
    paused = Subscription.objects.get()
    assert (paused.status, paused.paused_reason) == (SubscriptionStatus.PAUSED, "receiver abuse")

    client.post(CHANGELIST, {"action": "resume", ACTION_CHECKBOX_NAME: [subscription.pk]})
    assert Subscription.objects.get().status == SubscriptionStatus.ACTIVE
    audited = AuditEvent.objects.filter(action__in=["subscription.paused", "subscription.resumed"]).order_by("at")
    assert [(e.action, e.actor) for e in audited] == [
        ("subscription.paused", registry_admin.username),
        ("subscription.resumed", registry_admin.username),
    ]


def test_a_viewer_sees_subscriptions_but_cannot_pause_them(client, registry_viewer, subscription):
    client.force_login(registry_viewer)
    page = client.get(CHANGELIST).content.decode()
    assert subscription.url in page and 'value="pause"' not in page
    client.post(
        CHANGELIST, {"action": "pause", ACTION_CHECKBOX_NAME: [subscription.pk], "confirmed": "yes", "reason": "x"}
    )
    assert Subscription.objects.get().status == SubscriptionStatus.ACTIVE
    assert client.get(reverse("admin:participants_subscription_change", args=[subscription.pk])).status_code == 200
