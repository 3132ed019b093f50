"""Webhook subscriptions: what each participant receives and how its deliveries are going; pause and resume.
Participants create and delete their own over the API (POST|DELETE /service/subscriptions)."""

from django.contrib import admin, messages
from unfold.admin import ModelAdmin

from .. import services
from ..models import Subscription, SubscriptionStatus
from .common import apply_each, confirm_with_reason, console_time, pill, truncated


@admin.register(Subscription)
class SubscriptionAdmin(ModelAdmin):
    list_display = ("receiver", "owner", "subscription_status", "event_types", "delivered", "failing")
    list_filter = ("status",)
    list_select_related = ("participant__organisation",)
    search_fields = ("url", "participant__organisation__name", "=participant__id")
    show_full_result_count = False
    fields = (
        "participant",
        "url",
        "events",
        "status",
        "created_at",
        "delivered_seq",
        "delivered_at",
        "failing_since",
        "attempts",
        "last_error",
        "next_attempt_at",
        "paused_at",
        "paused_reason",
    )
    readonly_fields = fields
    actions = ["pause", "resume"]

    def has_add_permission(self, request):
        return False  # a participant subscribes itself, over the API

    def has_delete_permission(self, request, obj=None):
        return False  # pausing keeps what it has not received; the participant deletes its own

    @admin.display(description="receiver URL", ordering="url")
    def receiver(self, subscription):
        return truncated(subscription.url, wide=True)

    @admin.display(description="participant", ordering="participant__organisation__name")
    def owner(self, subscription):
        return truncated(str(subscription.participant))

    @admin.display(description="status", ordering="status")
    def subscription_status(self, subscription):
        return pill(SubscriptionStatus(subscription.status))

    @admin.display(description="events")
    def event_types(self, subscription):
        return ", ".join(subscription.events)

    @admin.display(description="delivered up to", ordering="delivered_seq")
    def delivered(self, subscription):
        when = console_time(subscription.delivered_at)
        return f"#{subscription.delivered_seq}" + (f" at {when}" if when else "")

    @admin.display(description="failing since", ordering="failing_since")
    def failing(self, subscription):
        if subscription.failing_since is None:
            return "—"
        return (
            f"{console_time(subscription.failing_since)} ({subscription.attempts} attempts: {subscription.last_error})"
        )

    @admin.action(description="Pause selected subscriptions…", permissions=["change"])
    def pause(self, request, queryset):
        chosen = [s for s in queryset.select_related("participant__organisation") if s.pause_refused() is None]
        if not chosen:
            self.message_user(request, "The selected subscriptions are paused already.", messages.WARNING)
            return None
        return confirm_with_reason(
            self,
            request,
            chosen,
            title="Pause subscriptions",
            intro="Nothing is delivered to a paused subscription; what it has not received waits, and is delivered "
            "in order once it is resumed (within the change feed's retention).",
            labels=[f"{s.url} ({s.participant})" for s in chosen],
            action="pause",
            apply=lambda s, actor, reason: services.pause_subscription(subscription=s, actor=actor, reason=reason),
            button="Yes, pause",
            done=lambda paused: f"Paused {len(paused)} subscription(s).",
        )

    @admin.action(description="Resume selected subscriptions", permissions=["change"])
    def resume(self, request, queryset):
        actor = services.Actor.from_request(request)
        resumed = apply_each(
            self, request, queryset, lambda s: services.resume_subscription(subscription=s, actor=actor)
        )
        if resumed:
            self.message_user(request, f"Resumed {len(resumed)} subscription(s).", messages.SUCCESS)
