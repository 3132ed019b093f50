"""Webhook subscriptions, the caller's own: POST|GET /service/subscriptions, GET|DELETE /service/subscriptions/{id}.
Deliveries are made by the worker (authapi/webhooks.py)."""

import uuid

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from participants import services
from participants.models import Participant, Subscription
from participants.remote import client_address
from participants.wire import rfc3339

from .. import schemas
from .base import RegistryView

MAX_BODY = 16 * 1024


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def subscription_document(subscription: Subscription) -> dict:
    return {
        "id": str(subscription.pk),
        "url": subscription.url,
        "events": subscription.events,
        "status": subscription.status,
        "createdOn": rfc3339(subscription.created_at),
        "deliveredSeq": subscription.delivered_seq,
        "deliveredOn": rfc3339(subscription.delivered_at),
        "failingSince": rfc3339(subscription.failing_since),
        "lastError": subscription.last_error or None,
        "nextAttemptOn": rfc3339(subscription.next_attempt_at),
        "pausedOn": rfc3339(subscription.paused_at),
        "pausedReason": subscription.paused_reason or None,
    }


def _caller_actor(request) -> services.Actor:
    """The calling participant, from where the trusted proxies say it called (as every audit event records it)."""
    return services.Actor(label=f"participant:{request.auth.participant_id}", remote_addr=client_address(request))


def _refused(error: ValidationError) -> exceptions.APIException:
    detail = error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    codes = {e.code for errors in getattr(error, "error_dict", {}).values() for e in errors}
    return Conflict(detail) if "duplicate" in codes else exceptions.ValidationError(detail)


class SubscriptionsView(RegistryView):
    """The caller's webhook subscriptions."""

    @extend_schema(
        operation_id="ListSubscriptions",
        tags=["sync"],
        responses={200: schemas.SubscriptionList, **schemas.REGISTRY_ERRORS},
    )
    def get(self, request):
        mine = Subscription.objects.filter(participant_id=request.auth.participant_id).order_by("created_at")
        response = Response({"subscriptions": [subscription_document(s) for s in mine]})
        response["Cache-Control"] = "private, no-cache"
        return response

    @extend_schema(
        operation_id="CreateSubscription",
        tags=["sync"],
        request=schemas.SubscriptionRequest,
        responses={
            201: schemas.Subscription,
            400: schemas.RegistryError,
            409: OpenApiResponse(schemas.RegistryError, description="The caller already subscribes this URL."),
            **schemas.REGISTRY_ERRORS,
        },
    )
    def post(self, request):
        if len(request.body) > MAX_BODY:
            raise exceptions.ValidationError({"detail": f"The request body may be at most {MAX_BODY} bytes."})
        data = request.data if isinstance(request.data, dict) else {}
        participant = Participant.objects.get(pk=request.auth.participant_id)
        try:
            subscription = services.subscribe(
                participant=participant, url=data.get("url"), events=data.get("events"), actor=_caller_actor(request)
            )
        except ValidationError as error:
            raise _refused(error) from None
        return Response(subscription_document(subscription), status=status.HTTP_201_CREATED)


class SubscriptionDetailView(RegistryView):
    """One of the caller's subscriptions (another participant's is not found)."""

    def _mine(self, request, subscription_id: str) -> Subscription:
        try:
            pk = uuid.UUID(subscription_id)
        except ValueError:
            pk = None
        found = Subscription.objects.filter(pk=pk, participant_id=request.auth.participant_id).first() if pk else None
        if found is None:
            raise exceptions.NotFound(f"No subscription of yours with id {subscription_id!r}.")
        return found

    @extend_schema(
        operation_id="GetSubscription", tags=["sync"], responses={200: schemas.Subscription, **schemas.REGISTRY_ERRORS}
    )
    def get(self, request, subscription_id):
        response = Response(subscription_document(self._mine(request, subscription_id)))
        response["Cache-Control"] = "private, no-cache"
        return response

    @extend_schema(
        operation_id="DeleteSubscription",
        tags=["sync"],
        responses={204: OpenApiResponse(description="Deleted: no more deliveries."), **schemas.REGISTRY_ERRORS},
    )
    def delete(self, request, subscription_id):
        services.unsubscribe(subscription=self._mine(request, subscription_id), actor=_caller_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
