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


def test_pausing_only_paused_subscriptions_says_so(client, registry_admin, subscription):
    services.pause_subscription(subscription=subscription, actor=services.Actor.system(), reason="first")
    client.force_login(registry_admin)
    answer = client.post(CHANGELIST, {"action": "pause", ACTION_CHECKBOX_NAME: [subscription.pk]}, follow=True)
    assert "paused already" in answer.content.decode()


def test_the_task_queues_rows_are_not_a_console_page(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Subscriptions" in page and "task result" not in page.lower()
