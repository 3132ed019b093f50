"""The product registry (contract §2, second phase): lenders' credit products, the product networks loan agents
build around them, and their memberships; and who may see which."""

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .participants import Participant, Role, may_authenticate


class ProductStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


class ProductQuerySet(models.QuerySet):
    def visible_to(self, participant_id):
        """Public products, and private ones to their lender and to members of one of their networks: what every
        answer shows a participant of products, the lookups and the change feed, snapshot and webhooks alike (a
        withdrawn product is shown WITHDRAWN)."""
        return self.filter(
            Q(is_private=False)
            | Q(lender_id=participant_id)
            | Q(
                networks__memberships__participant_id=participant_id,
                networks__memberships__ended_at__isnull=True,
            )
        ).distinct()


class Product(models.Model):
    """A lender's credit product; loan agents build product networks around it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="product ID")
    name = models.CharField(max_length=35)
    description = models.TextField(blank=True)
    lender = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="products")
    is_private = models.BooleanField(default=False, verbose_name="private")
    is_end_use_controlled = models.BooleanField(default=False, verbose_name="end use controlled")
    is_collection_controlled = models.BooleanField(default=False, verbose_name="collection controlled")
    is_aa_flow_required = models.BooleanField(default=False, verbose_name="AA flow required")
    is_monitoring_consent_required = models.BooleanField(default=False, verbose_name="monitoring consent required")
    is_derived_data_partner_required = models.BooleanField(default=False, verbose_name="derived data partner required")
    derived_data_description = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=12, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # A network's product picker and a lender's product list tell products apart by name.
            models.UniqueConstraint(
                Lower("name"),
                "lender",
                condition=Q(status=ProductStatus.ACTIVE),
                name="product_name_unique_per_lender",
                violation_error_message="This lender already has a product of that name (ignoring case).",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_withdrawn(self) -> bool:
        return self.status == ProductStatus.WITHDRAWN


class ProductNetworkQuerySet(models.QuerySet):
    def visible_to(self, participant_id):
        """The networks of the products `participant_id` may see (a withdrawn product's too: they answer so)."""
        return self.filter(product__in=Product.objects.visible_to(participant_id))


class ProductNetwork(models.Model):
    """The participants a loan agent brings together to serve one product."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="network ID")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="networks")
    created_by = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="created_networks", verbose_name="loan agent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductNetworkQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "product network"

    def __str__(self):
        return self.name


class NetworkMembershipQuerySet(models.QuerySet):
    def current(self):
        return self.filter(ended_at__isnull=True)

    def listed_in(self, network):
        """What a network lists: its current memberships of participants that may authenticate; none
        while its product is withdrawn."""
        if network.product.is_withdrawn:
            return self.none()
        return self.current().filter(may_authenticate("participant__"), network=network)


class NetworkMembership(models.Model):
    """A participant's place in a product network: the resource mapping that offboarding removes.

    Ending a membership keeps its row (history); at most one current membership per participant
    and network.
    """

    network = models.ForeignKey(ProductNetwork, on_delete=models.PROTECT, related_name="memberships")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices, help_text="The participant's role in the network.")
    added_by = models.CharField(max_length=200)
    added_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=200, blank=True)

    objects = NetworkMembershipQuerySet.as_manager()

    class Meta:
        ordering = ["network", "role", "added_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "participant"],
                condition=Q(ended_at__isnull=True),
                name="membership_once_per_network",
                violation_error_message="This participant is already a member of this network.",
            )
        ]

    def __str__(self):
        return f"{self.participant} in {self.network}"
