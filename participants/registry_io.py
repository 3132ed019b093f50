"""
Registry export and import: organisations, participants with their public keys, products and
product networks, in one JSON document (format `ocen-registry/1`, described in docs/registry-format.md).

Export never contains a secret: client IDs yes, client secrets or their hashes no. Import is
all-or-nothing (one transaction; any invalid row refuses the whole file and names the row),
validated with the same rules as the admin, and idempotent: records that exist already (by id) are
left as they are, so importing a file twice changes nothing the second time. A participant created
by an import gets a new client secret, returned once in the result.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from . import keys as keylib
from .models import (
    KeyStatus,
    NetworkMembership,
    OperationalStatus,
    Organisation,
    Participant,
    ParticipantKey,
    Product,
    ProductNetwork,
    ProductStatus,
    ReviewStatus,
    Role,
)
from .services import Actor, audit, create_client
from .validators import normalise_base_url

FORMAT = "ocen-registry/1"
PRODUCT_FLAGS = {
    "isPrivate": "is_private",
    "isEndUseControlled": "is_end_use_controlled",
    "isCollectionControlled": "is_collection_controlled",
    "isAAFlowRequired": "is_aa_flow_required",
    "isMonitoringConsentRequired": "is_monitoring_consent_required",
    "isDerivedDataPartnerRequired": "is_derived_data_partner_required",
}


def _time(moment):
    return moment.isoformat() if moment else None


def export_registry() -> dict:
    """The whole registry as one document (public data only)."""
    keys_by_participant: dict = {}
    for key in ParticipantKey.objects.order_by("participant_id", "created_at"):
        keys_by_participant.setdefault(key.participant_id, []).append(
            {
                "kid": key.kid,
                "jwk": key.jwk,
                "status": key.status,
                "validFrom": _time(key.valid_from),
                "validUntil": _time(key.valid_until),
                "revokedAt": _time(key.revoked_at),
                "revocationReason": key.revocation_reason,
            }
        )
    members_by_network: dict = {}
    for membership in NetworkMembership.objects.current().order_by("network_id", "added_at", "id"):
        members_by_network.setdefault(membership.network_id, []).append(
            {"participantId": str(membership.participant_id), "role": membership.role}
        )
    return {
        "format": FORMAT,
        "organisations": [
            {
                "id": str(o.id),
                "name": o.name,
                "description": o.description,
                "website": o.website,
                "email": o.email,
                "phone": o.phone,
            }
            for o in Organisation.objects.order_by("id")
        ],
        "participants": [
            {
                "id": str(p.id),
                "orgId": str(p.organisation_id),
                "role": p.role,
                "baseUrl": p.base_url,
                "participantRoleStatus": p.review_status,
                "status": p.status,
                "clientId": p.client_id,
                "keys": keys_by_participant.get(p.id, []),
            }
            for p in Participant.objects.order_by("id")
        ],
        "products": [
            {
                "id": str(p.id),
                "name": p.name,
                "description": p.description,
                "lenderId": str(p.lender_id),
                **{flag: getattr(p, attr) for flag, attr in PRODUCT_FLAGS.items()},
                "derivedDataDescription": p.derived_data_description,
                "status": p.status,
            }
            for p in Product.objects.order_by("id")
        ],
        "productNetworks": [
            {
                "id": str(n.id),
                "name": n.name,
                "description": n.description,
                "productId": str(n.product_id),
                "createdBy": str(n.created_by_id),
                "members": members_by_network.get(n.id, []),
            }
            for n in ProductNetwork.objects.order_by("id")
        ],
    }


@dataclass
class ImportResult:
    created: dict = field(default_factory=lambda: dict.fromkeys(
        ("organisations", "participants", "keys", "products", "productNetworks", "memberships"), 0))  # fmt: skip
    credentials: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"created": self.created, "credentials": self.credentials}


class ImportRefused(ValidationError):
    """The document is invalid; `messages` name each bad row. Nothing was written."""


def _uuid(value, where: str, errors: list) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        errors.append(f"{where}: {value!r} is not a UUID.")
        return None


def _valid(instance, where: str, errors: list) -> bool:
    """Model validation of one imported row, its problems recorded with the row's place."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        errors.extend(f"{where}.{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
        return False
    return True


def _rows(document: dict, name: str, errors: list) -> list[tuple[str, dict]]:
    rows = document.get(name, [])
    if not isinstance(rows, list):
        errors.append(f"{name}: must be a list.")
        return []
    result = []
    for index, row in enumerate(rows):
        where = f"{name}[{index}]"
        if isinstance(row, dict):
            result.append((where, row))
        else:
            errors.append(f"{where}: must be an object.")
    return result


def import_registry(document: dict, *, actor: Actor) -> ImportResult:
    """Load a registry document; refuses the whole file (ImportRefused) if any row is invalid."""
    errors: list[str] = []
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportRefused([f"format: expected {FORMAT!r}."])
    result = ImportResult()
    with transaction.atomic():
        _import(document, result, errors, actor)
        if errors:
            raise ImportRefused(errors)  # rolls back every row written so far
        audit(actor, "registry.imported", created=result.created)
    return result


def _import(document: dict, result: ImportResult, errors: list, actor: Actor) -> None:
    orgs = {o.id: o for o in Organisation.objects.all()}
    for where, row in _rows(document, "organisations", errors):
        org_id = _uuid(row.get("id"), f"{where}.id", errors)
        if org_id is None or org_id in orgs:
            continue
        org = Organisation(
            id=org_id, **{k: str(row.get(k) or "") for k in ("name", "description", "website", "email", "phone")}
        )
        if not _valid(org, where, errors):
            continue
        org.save()
        orgs[org_id] = org
        result.created["organisations"] += 1

    participants = {p.id: p for p in Participant.objects.all()}
    for where, row in _rows(document, "participants", errors):
        _import_participant(where, row, orgs, participants, result, errors)

    products = {p.id: p for p in Product.objects.all()}
    for where, row in _rows(document, "products", errors):
        product_id = _uuid(row.get("id"), f"{where}.id", errors)
        lender = participants.get(_uuid(row.get("lenderId"), f"{where}.lenderId", errors))
        if product_id is None or product_id in products:
            continue
        if lender is None or lender.role != Role.LENDER:
            errors.append(f"{where}.lenderId: must be a lender in the registry or the file.")
            continue
        product = Product(
            id=product_id,
            lender=lender,
            name=str(row.get("name") or ""),
            description=str(row.get("description") or ""),
            derived_data_description=str(row.get("derivedDataDescription") or ""),
            status=row.get("status", ProductStatus.ACTIVE),
            **{attr: bool(row.get(flag, False)) for flag, attr in PRODUCT_FLAGS.items()},
        )
        if not _valid(product, where, errors):
            continue
        product.save()
        products[product_id] = product
        result.created["products"] += 1

    networks = {n.id: n for n in ProductNetwork.objects.select_related("product")}
    for where, row in _rows(document, "productNetworks", errors):
        network_id = _uuid(row.get("id"), f"{where}.id", errors)
        if network_id is None:
            continue
        network = networks.get(network_id)
        if network is None:
            product = products.get(_uuid(row.get("productId"), f"{where}.productId", errors))
            creator = participants.get(_uuid(row.get("createdBy"), f"{where}.createdBy", errors))
            if product is None:
                errors.append(f"{where}.productId: no such product in the registry or the file.")
                continue
            if creator is None or creator.role != Role.LOAN_AGENT:
                errors.append(f"{where}.createdBy: must be a loan agent in the registry or the file.")
                continue
            network = ProductNetwork(
                id=network_id, product=product, created_by=creator,
                name=str(row.get("name") or ""), description=str(row.get("description") or ""),
            )  # fmt: skip
            if not _valid(network, where, errors):
                continue
            network.save()
            networks[network_id] = network
            result.created["productNetworks"] += 1
        for index, member in enumerate(row.get("members") or []):
            member_where = f"{where}.members[{index}]"
            participant = participants.get(_uuid((member or {}).get("participantId"), member_where, errors))
            if participant is None:
                errors.append(f"{member_where}.participantId: no such participant in the registry or the file.")
                continue
            if network.memberships.current().filter(participant=participant).exists():
                continue
            # A restore, not an addition: suspended members and withdrawn products' networks come back
            # as they were; only offboarded participants have no current memberships.
            if participant.is_offboarded:
                errors.append(f"{member_where}: {participant} has been offboarded.")
                continue
            role = member.get("role") or participant.role
            if role not in Role.values:
                errors.append(f"{member_where}.role: unknown role {role!r}.")
                continue
            NetworkMembership.objects.create(network=network, participant=participant, role=role, added_by=actor.label)
            result.created["memberships"] += 1


def _import_participant(where, row, orgs, participants, result, errors) -> None:
    participant_id = _uuid(row.get("id"), f"{where}.id", errors)
    if participant_id is None or participant_id in participants:
        return
    org = orgs.get(_uuid(row.get("orgId"), f"{where}.orgId", errors))
    problems = []
    if org is None:
        problems.append(f"{where}.orgId: no such organisation in the registry or the file.")
    try:
        role = Role.parse(str(row.get("role") or ""))
    except ValueError:
        problems.append(f"{where}.role: unknown role {row.get('role')!r}.")
    try:
        base_url = normalise_base_url(str(row.get("baseUrl") or ""))
    except ValidationError as exc:
        problems.append(f"{where}.baseUrl: {' '.join(exc.messages)}")
    review = row.get("participantRoleStatus", ReviewStatus.APPROVED)
    status = row.get("status", OperationalStatus.ACTIVE)
    if review not in ReviewStatus.values:
        problems.append(f"{where}.participantRoleStatus: unknown value {review!r}.")
    if status not in OperationalStatus.values:
        problems.append(f"{where}.status: unknown value {status!r}.")
    parsed_keys = []
    for index, key in enumerate(row.get("keys") or []):
        key_where = f"{where}.keys[{index}]"
        if not isinstance(key, dict) or not isinstance(key.get("jwk"), dict):
            problems.append(f"{key_where}.jwk: must be a public JWK object.")
            continue
        try:
            parsed = keylib.parse_public_key(json.dumps({**key["jwk"], "kid": key.get("kid") or key["jwk"].get("kid")}))
        except keylib.KeyRejected as exc:
            problems.append(f"{key_where}: {exc}")
            continue
        key_status = key.get("status", KeyStatus.ACTIVE)
        if key_status not in KeyStatus.values:
            problems.append(f"{key_where}.status: unknown value {key_status!r}.")
            continue
        valid_from, valid_until = (
            parse_datetime(key.get("validFrom") or ""),
            parse_datetime(key.get("validUntil") or ""),
        )
        if valid_from and valid_until and valid_until <= valid_from:
            problems.append(f"{key_where}: validUntil must be after validFrom.")
            continue
        parsed_keys.append((parsed, key))
    if problems:
        errors.extend(problems)
        return
    if Participant.objects.filter(organisation=org, role=role).exists():
        errors.append(f"{where}: {org.name} already has a {role.label} participant.")
        return
    offboarded = status == OperationalStatus.OFFBOARDED
    client_id = str(row.get("clientId") or "") or None
    if client_id and Participant.objects.filter(client_id=client_id).exists():
        errors.append(f"{where}.clientId: {client_id!r} belongs to another participant.")
        return
    application, secret = None, None
    if not offboarded:
        application, secret = create_client(organisation=org, role=role, client_id=client_id)
        client_id = application.client_id
    participant = Participant.objects.create(
        id=participant_id,
        organisation=org,
        role=role,
        base_url=base_url,
        review_status=review,
        status=status,
        application=application,
        client_id=client_id or f"offboarded-{participant_id}",
    )
    participants[participant_id] = participant
    result.created["participants"] += 1
    for parsed, key in parsed_keys:
        ParticipantKey.objects.create(
            participant=participant,
            kid=parsed.kid,
            jwk=parsed.jwk,
            key_type=parsed.key_type,
            alg=parsed.alg,
            key_size=parsed.key_size,
            fingerprint=parsed.fingerprint,
            status=key.get("status", KeyStatus.ACTIVE),
            valid_from=parse_datetime(key.get("validFrom") or "") or participant.created_at,
            valid_until=parse_datetime(key.get("validUntil") or ""),
            revoked_at=parse_datetime(key.get("revokedAt") or "")
            or (participant.created_at if key.get("status") == KeyStatus.REVOKED else None),
            revocation_reason=str(key.get("revocationReason") or ""),
        )
        result.created["keys"] += 1
    if secret:
        result.credentials.append({"participantId": str(participant.id), "clientId": client_id, "clientSecret": secret})
