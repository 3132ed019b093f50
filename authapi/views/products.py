"""The product registry's lookups (contract §5.2): products, networks and the participants a network lists."""

import uuid

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions

from participants.models import (
    NetworkMembership,
    ParticipantKey,
    Product,
    ProductNetwork,
)

from .. import schemas
from ..representations import (
    fresh_until,
    network_document,
    network_participants_document,
    product_document,
)
from .base import RegistryView


def visible_network(request, network_id: str) -> ProductNetwork:
    """A network the caller may see: 404, not 403, for private products outside its reach."""
    try:
        pk = uuid.UUID(network_id)
        return ProductNetwork.objects.visible_to(request.auth.participant_id).select_related("product").get(pk=pk)
    except (ValueError, ProductNetwork.DoesNotExist):
        raise exceptions.NotFound(f"No product network with id {network_id!r}.") from None


class ProductDetailView(RegistryView):
    """A credit product (contract §5.2)."""

    @extend_schema(
        operation_id="GetProduct",
        tags=["products"],
        responses={
            200: schemas.ProductEnvelope,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, product_id):
        try:
            product = Product.objects.visible_to(request.auth.participant_id).get(pk=uuid.UUID(product_id))
        except (ValueError, Product.DoesNotExist):
            raise exceptions.NotFound(f"No product with id {product_id!r}.") from None
        return self.respond(request, product_document(product))


class ProductNetworkDetailView(RegistryView):
    """A product network with its product and how many current, active members it lists."""

    @extend_schema(
        operation_id="GetProductNetwork",
        tags=["products"],
        responses={
            200: schemas.ProductNetworkDocument,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, network_id):
        network = visible_network(request, network_id)
        return self.respond(request, network_document(network, NetworkMembership.objects.listed_in(network).count()))


class ProductNetworkParticipantsView(RegistryView):
    """The network's participants keyed by role, each with its §5.1 record (baseUrl, publicKey …)."""

    @extend_schema(
        operation_id="GetProductNetworkParticipants",
        tags=["products"],
        responses={
            200: schemas.NetworkParticipants,
            **schemas.REGISTRY_ERRORS,
        },
    )
    def get(self, request, network_id):
        network = visible_network(request, network_id)
        memberships = (
            NetworkMembership.objects.listed_in(network)
            .select_related("participant__organisation")
            .prefetch_related(Prefetch("participant__keys", queryset=ParticipantKey.objects.order_by("-created_at")))
            .order_by("role", "added_at")
        )
        return self.respond(
            request,
            network_participants_document(memberships),
            fresh_until([(m.participant, list(m.participant.keys.all())) for m in memberships]),
        )
