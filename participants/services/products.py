"""The product registry: products, networks, memberships, and ending a participant's mappings."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    AuditAction,
    NetworkMembership,
    Participant,
    Product,
    ProductNetwork,
    ProductStatus,
    Role,
)
from .common import Actor, _locked, _save_changes, audit

PRODUCT_FIELDS = (
    "name",
    "description",
    "is_private",
    "is_end_use_controlled",
    "is_collection_controlled",
    "is_aa_flow_required",
    "is_monitoring_consent_required",
    "is_derived_data_partner_required",
    "derived_data_description",
)


def _current_in_role_problem(participant: Participant | None, role: Role, missing: str, wrong: str) -> str | None:
    if participant is None:
        return missing
    if participant.role != role:
        return f"{wrong}; {participant} is a {participant.get_role_display()}."
    if participant.is_offboarded:
        return f"{participant} has been offboarded."
    if participant.is_rejected:
        return f"{participant} was rejected."
    return None


def product_owner_problem(participant: Participant | None) -> str | None:
    """Why `participant` cannot own a product, or None: owners are current lenders."""
    return _current_in_role_problem(
        participant, Role.LENDER, "Choose the lender that owns the product.", "A product's owner must be a lender"
    )


def network_creator_problem(participant: Participant | None) -> str | None:
    """Why `participant` cannot create a product network, or None: creators are current loan agents."""
    return _current_in_role_problem(
        participant,
        Role.LOAN_AGENT,
        "Choose the loan agent that builds the network.",
        "A product network is created by a loan agent",
    )


def membership_problem(network: ProductNetwork | None, participant: Participant | None) -> str | None:
    """Why `participant` cannot be added to `network`, or None."""
    if participant is None:
        return "Choose a participant."
    if not participant.can_authenticate:
        return f"Only approved, active participants can be added; {participant} is not."
    if network is not None and network.pk:
        if network.product.is_withdrawn:
            return f"The product {network.product} has been withdrawn."
        if network.memberships.current().filter(participant=participant).exists():
            return f"{participant} is already a member of {network}."
    return None


def _refuse(problem: str | None, field: str | None = None) -> None:
    if problem:
        raise ValidationError({field: problem} if field else problem)


def _product_facts(product: Product) -> dict:
    return {"productId": str(product.id), "name": product.name}


@transaction.atomic
def create_product(*, lender: Participant, actor: Actor, product_id: uuid.UUID | None = None, **fields) -> Product:
    """Register a lender's credit product (with `product_id`, the id it has elsewhere)."""
    lender = _locked(lender) if lender is not None else None
    _refuse(product_owner_problem(lender), "lender")
    product = Product(
        **({"id": product_id} if product_id else {}),
        lender=lender,
        **{name: fields[name] for name in PRODUCT_FIELDS if name in fields},
    )
    product.full_clean()
    product.save()
    audit(actor, AuditAction.PRODUCT_CREATED, participant=lender, product=_product_facts(product))
    return product


@transaction.atomic
def update_product(*, product: Product, actor: Actor, **fields) -> Product:
    """Change a product's descriptive fields and flags."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError("A withdrawn product cannot be changed.")
    changed = _save_changes(product, {name: fields[name] for name in PRODUCT_FIELDS if name in fields})
    if not changed:
        return product
    audit(
        actor, AuditAction.PRODUCT_UPDATED, participant=product.lender, product=_product_facts(product), changed=changed
    )
    return product


def _withdraw(product: Product, now: dt.datetime) -> None:
    product.status = ProductStatus.WITHDRAWN
    product.withdrawn_at = now
    product.save(update_fields=["status", "withdrawn_at", "updated_at"])


@transaction.atomic
def withdraw_product(*, product: Product, actor: Actor, reason: str = "", now: dt.datetime | None = None) -> Product:
    """Take a product off the network: its networks stop listing participants."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError(f"{product} is already withdrawn.")
    _withdraw(product, now or timezone.now())
    audit(
        actor, AuditAction.PRODUCT_WITHDRAWN, participant=product.lender, product=_product_facts(product), reason=reason
    )
    return product


@transaction.atomic
def update_network(*, network: ProductNetwork, actor: Actor, name: str, description: str = "") -> ProductNetwork:
    """Rename or re-describe a network."""
    network = ProductNetwork.objects.select_for_update().get(pk=network.pk)
    changed = _save_changes(network, {"name": name.strip(), "description": description})
    if not changed:
        return network
    audit(
        actor, AuditAction.NETWORK_UPDATED, participant=network.created_by, networkId=str(network.id), changed=changed
    )
    return network


def _add_member(network: ProductNetwork, participant: Participant, role: str, actor: Actor) -> NetworkMembership:
    try:
        with transaction.atomic():
            return NetworkMembership.objects.create(
                network=network, participant=participant, role=role, added_by=actor.label
            )
    except IntegrityError:
        raise ValidationError({"participant": f"{participant} is already a member of {network}."}) from None


@transaction.atomic
def create_network(
    *,
    product: Product,
    loan_agent: Participant,
    name: str,
    actor: Actor,
    description: str = "",
    network_id: uuid.UUID | None = None,
    with_founders: bool = True,
) -> ProductNetwork:
    """A loan agent's network for a product; the loan agent and the product's lender join it at once
    (unless `with_founders` is off: an import, which adds the members its record lists)."""
    loan_agent = _locked(loan_agent) if loan_agent is not None else None
    _refuse(network_creator_problem(loan_agent), "created_by")
    product = Product.objects.select_for_update(of=("self",)).select_related("lender").get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError({"product": f"The product {product} has been withdrawn."})
    network = ProductNetwork(
        **({"id": network_id} if network_id else {}),
        product=product,
        created_by=loan_agent,
        name=(name or "").strip(),
        description=description,
    )
    network.full_clean()
    network.save()
    founders = [p for p in (loan_agent, product.lender) if p.can_authenticate] if with_founders else []
    for founder in founders:
        _add_member(network, founder, founder.role, actor)
    audit(
        actor,
        AuditAction.NETWORK_CREATED,
        participant=loan_agent,
        networkId=str(network.id),
        name=network.name,
        product=_product_facts(product),
        members=[str(p.id) for p in founders],
    )
    return network


@transaction.atomic
def add_network_member(
    *, network: ProductNetwork, participant: Participant, actor: Actor, role: str | None = None
) -> NetworkMembership:
    """Add an approved, active participant to a network (once), in its own role: a network lists its members by
    role, and a participant is one role (`role`, when given, must be that one)."""
    network = ProductNetwork.objects.select_for_update(of=("self",)).select_related("product").get(pk=network.pk)
    participant = _locked(participant) if participant is not None else None
    _refuse(membership_problem(network, participant), "participant")
    if role is not None and role != participant.role:
        _refuse(
            f"A member takes part in its own role: {participant} is a {participant.get_role_display()}, not {role}.",
            "participant",
        )
    membership = _add_member(network, participant, participant.role, actor)
    audit(
        actor,
        AuditAction.NETWORK_MEMBER_ADDED,
        participant=participant,
        networkId=str(network.id),
        role=membership.role,
    )
    return membership


@transaction.atomic
def remove_network_member(
    *, membership: NetworkMembership, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> NetworkMembership:
    """End a membership; the row stays as history."""
    membership = NetworkMembership.objects.select_for_update().get(pk=membership.pk)
    if membership.ended_at is not None:
        raise ValidationError("This membership has already ended.")
    membership.ended_at = now or timezone.now()
    membership.ended_reason = reason[:200]
    membership.save(update_fields=["ended_at", "ended_reason"])
    audit(
        actor,
        AuditAction.NETWORK_MEMBER_REMOVED,
        participant=membership.participant,
        networkId=str(membership.network_id),
        reason=reason,
    )
    return membership


def end_resource_mappings(*, participant: Participant, actor: Actor, now: dt.datetime, reason: str = "") -> dict:
    """Offboarding's resource mappings: end every current network membership of the participant and
    withdraw the products it owns (each audited as a withdrawal); delete its webhook subscriptions. Runs inside
    the offboarding transaction; returns what it did."""
    memberships = list(participant.memberships.current().select_for_update().values_list("pk", "network_id", "role"))
    participant.memberships.filter(pk__in=[pk for pk, _, _ in memberships]).update(
        ended_at=now, ended_reason="participant offboarded"
    )
    products = list(participant.products.select_for_update().filter(status=ProductStatus.ACTIVE))
    for product in products:
        _withdraw(product, now)
        audit(
            actor,
            AuditAction.PRODUCT_WITHDRAWN,
            participant=participant,
            product=_product_facts(product),
            reason=reason,
            cause="participant offboarded",
        )
    subscriptions = [str(pk) for pk in participant.subscriptions.values_list("pk", flat=True)]
    participant.subscriptions.all().delete()
    return {
        "networkMemberships": [{"networkId": str(network_id), "role": role} for _, network_id, role in memberships],
        "productsWithdrawn": [str(product.id) for product in products],
        "subscriptionsRemoved": subscriptions,
    }
