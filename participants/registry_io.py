"""
Registry export and import: organisations, participants with their public keys, products and
product networks, in one JSON document (format `ocen-registry/1`, described in docs/registry-format.md and
read by the serializers of registry_format.py).

Export never contains a secret: client IDs yes, client secrets or their hashes no. Import creates
every record through the same service functions as the admin and the commands (so with their checks,
their audit events and the four-eyes rule), all-or-nothing (one transaction; any refused row refuses
the whole file and names the row), and idempotent: records that exist already (by id) are left as
they are, so importing a file twice changes nothing the second time. A participant created by an
import gets a new client secret, returned once in the result.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import services
from .models import (
    PENDING_REVIEW,
    AuditAction,
    KeyStatus,
    NetworkMembership,
    OperationalStatus,
    Organisation,
    Participant,
    ParticipantKey,
    Product,
    ProductNetwork,
    ReviewStatus,
    Role,
)
from .registry_format import (
    FORMAT,
    PRODUCT_FLAGS,
    DocumentSerializer,
    MembersSerializer,
    NetworkSerializer,
    OrganisationSerializer,
    ParticipantSerializer,
    ProductSerializer,
    RecordSerializer,
    messages,
)
from .services import Actor, audit
from .wire import rfc3339

__all__ = ["FORMAT", "ImportRefused", "ImportResult", "export_registry", "import_registry"]


def export_registry() -> dict:
    """The whole registry as one document (public data only)."""
    keys_by_participant: dict = {}
    for key in ParticipantKey.objects.order_by("participant_id", "created_at"):
        keys_by_participant.setdefault(key.participant_id, []).append(
            {
                "kid": key.kid,
                "jwk": key.jwk,
                "status": key.status,
                "validFrom": rfc3339(key.valid_from),
                "validUntil": rfc3339(key.valid_until),
                "revokedAt": rfc3339(key.revoked_at),
                "revocationReason": key.revocation_reason,
                "primaryFrom": rfc3339(key.primary_from),
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
                "logo": base64.b64encode(bytes(o.logo)).decode() if o.logo else None,
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
                **({"clientAuthentication": "private_key_jwt"} if p.key_only else {}),
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
    created: dict = field(
        default_factory=lambda: dict.fromkeys(
            ("organisations", "participants", "keys", "products", "productNetworks", "memberships"), 0
        )
    )
    credentials: list = field(default_factory=list)
    awaiting_approval: list = field(default_factory=list)
    not_restored: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "created": self.created,
            "credentials": self.credentials,
            "awaitingApproval": self.awaiting_approval,
            "notRestored": self.not_restored,
        }


class ImportRefused(ValidationError):
    """The document is invalid; `messages` name each bad row. Nothing was written."""


def import_registry(document: dict, *, actor: Actor) -> ImportResult:
    """Load a registry document; refuses the whole file (ImportRefused) if any row is refused."""
    envelope = DocumentSerializer(data=document)
    if not envelope.is_valid():
        raise ImportRefused(messages(envelope.errors))
    importer = Importer(envelope.validated_data, actor)
    with transaction.atomic():
        importer.run()
        if importer.errors:
            raise ImportRefused(importer.errors)  # rolls back every row written so far
        audit(actor, AuditAction.REGISTRY_IMPORTED, created=importer.result.created)
    return importer.result


# Service arguments by the name the file gives them, for error messages that point into the file.
FILE_NAMES = {
    "base_url": "baseUrl",
    "public_key": "keys",
    "client_id": "clientId",
    "lender": "lenderId",
    "created_by": "createdBy",
    "product": "productId",
    "participant": "participantId",
    "org_name": "orgId",
    "derived_data_description": "derivedDataDescription",
}
NOT_RESTORED = "a membership is restored only for a participant that is approved and active"


def key_facts(key: dict, now) -> dict:
    """What the import does with a key of the file (KeySerializer's reading): whether its validity has ended, the
    validity it keeps (`until`), and whether a switch to it is still to come (`scheduled`)."""
    until, primary_from = key["validUntil"], key["primaryFrom"]
    return {
        **key,
        "ended": until is not None and until <= now,
        "until": until if until is not None and until > now else None,
        "scheduled": primary_from if primary_from and primary_from > now else None,
    }


def primary_first(keys: list[dict]) -> list[dict]:
    """The file's keys with the one to onboard with first: the key that was primary (the ACTIVE one switched
    to last; in a file from before primary keys, the newest ACTIVE one), which onboarding makes primary."""
    active = [key for key in keys if key["status"] == KeyStatus.ACTIVE and not key["scheduled"]]
    if not active:
        return keys
    switched = [key for key in active if key["primaryFrom"]]
    primary = max(switched, key=lambda key: key["primaryFrom"]) if switched else active[-1]
    return [primary, *(key for key in keys if key is not primary)]


def pending(review: str) -> ReviewStatus | None:
    """How onboarding records a participant the file gives this review status: approved (as the
    four-eyes rule allows), or pending as it was; a rejected one is recorded pending, then rejected."""
    if review == ReviewStatus.APPROVED:
        return None
    return ReviewStatus(review) if review in PENDING_REVIEW else ReviewStatus.UNDER_REVIEW


class Importer:
    """One import. Each record goes through the service that creates it, in the order that lets those
    services' own rules hold: organisations; participants with their keys and review and operational
    states; products and networks with their members; then offboardings and withdrawals, which the
    earlier records may depend on (a network's creator, a product's lender). A record is read (by its
    serializer, registry_format) only when it is created: one that exists is matched by its id alone."""

    def __init__(self, document: dict, actor: Actor):
        self.document, self.actor = document, actor
        self.result, self.errors = ImportResult(), []
        self.organisations = {o.id: o for o in Organisation.objects.all()}
        self.participants = {p.id: p for p in Participant.objects.select_related("organisation")}
        self.products = {p.id: p for p in Product.objects.all()}
        self.networks = {n.id: n for n in ProductNetwork.objects.select_related("product")}
        # What the serializers' references (orgId, lenderId, …) resolve against; grows as records are created.
        self.records = {
            "organisations": self.organisations,
            "participants": self.participants,
            "products": self.products,
        }
        self.to_offboard: list[tuple[str, Participant]] = []
        self.to_withdraw: list[tuple[str, Product]] = []

    def run(self) -> None:
        for name, load in (
            ("organisations", self.organisation),
            ("participants", self.participant),
            ("products", self.product),
            ("productNetworks", self.network),
        ):
            seen = set()
            for index, row in enumerate(self.document.get(name, [])):
                where = f"{name}[{index}]"
                record = self.read(RecordSerializer, row, where)
                if record is None:
                    continue
                if record["id"] in seen:
                    self.errors.append(f"{where}.id: {record['id']} appears twice in the file.")
                else:
                    seen.add(record["id"])
                    load(where, record["id"], row)
        self.final_states()

    def final_states(self) -> None:
        """Offboardings and withdrawals, last: the records created before may name these participants and products."""
        for where, participant in self.to_offboard:
            self.call(
                where,
                services.offboard_participant,
                participant=participant,
                actor=self.actor,
                reason="offboarded before import",
            )
        for where, product in self.to_withdraw:
            product.refresh_from_db()
            if product.is_withdrawn:  # its lender's offboarding (above) withdrew it already
                continue
            self.call(
                where, services.withdraw_product, product=product, actor=self.actor, reason="withdrawn before import"
            )

    # --- plumbing -------------------------------------------------------------------------------------

    def read(self, serializer_class, row, where: str) -> dict | None:
        """The row as `serializer_class` reads it; None, with each problem placed in the file, when it cannot."""
        serializer = serializer_class(data=row, context=self.records)
        if serializer.is_valid():
            return serializer.validated_data
        self.errors.extend(messages(serializer.errors, where))
        return None

    def call(self, where: str, service, **kwargs):
        """Run one service; a refusal becomes an error on the row, with the file's own field names."""
        try:
            return service(**kwargs)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, problems in exc.message_dict.items():
                    self.errors.append(f"{where}.{FILE_NAMES.get(name, name)}: {' '.join(problems)}")
            else:
                self.errors.append(f"{where}: {' '.join(exc.messages)}")
            return None

    # --- records ------------------------------------------------------------------------------------

    def organisation(self, where: str, org_id: uuid.UUID, row: dict) -> None:
        if org_id in self.organisations:
            return
        fields = self.read(OrganisationSerializer, row, where)
        if fields is None:
            return
        logo = fields.pop("logo")
        organisation = self.call(where, services.create_organisation, actor=self.actor, org_id=org_id, **fields)
        if organisation is None:
            return
        self.organisations[org_id] = organisation
        self.result.created["organisations"] += 1
        if logo is not None:
            self.call(where, services.set_organisation_logo, organisation=organisation, logo=logo, actor=self.actor)

    def participant(self, where: str, participant_id: uuid.UUID, row: dict) -> None:
        if participant_id in self.participants:
            return
        fields = self.read(ParticipantSerializer, row, where)
        if fields is None:
            return
        now = timezone.now()
        first, *others = primary_first([key_facts(key, now) for key in fields["keys"]])
        credentials = self.call(
            where,
            services.onboard_participant,
            organisation=fields["organisation"],
            role=fields["role"],
            base_url=fields["base_url"],
            public_key=first["public_key"],
            actor=self.actor,
            pending=pending(fields["review"]),
            participant_id=participant_id,
            client_id=fields["client_id"],
            key_valid_until=first["until"],
            key_only=fields["key_only"],
        )
        if credentials is None:
            return
        participant = credentials.participant
        self.participants[participant_id] = participant
        self.result.created["participants"] += 1
        added = [(participant.keys.get(), first), *self.other_keys(where, participant, others)]
        self.result.created["keys"] += len(added)
        self.key_states(where, added)
        self.states(where, participant, fields["review"], fields["status"], credentials)

    def other_keys(self, where: str, participant: Participant, others: list[dict]) -> list:
        """A participant's keys after its first, each added as the file has it: (key, facts) of those added."""
        added = []
        for index, facts in enumerate(others, start=1):
            made = self.call(
                f"{where}.keys[{index}]",
                services.add_participant_key,
                participant=participant,
                public_key=facts["public_key"],
                actor=self.actor,
                valid_until=facts["until"],
                primary_from=facts["scheduled"],
            )
            if made is not None:
                added.append((made, facts))
        return added

    def key_states(self, where: str, added: list) -> None:
        """Retire, then revoke, the keys the file says are no longer active (in that order: a key may be
        retired only while another is active). A retired key whose validity ended is revoked."""
        for key, facts in added:
            if facts["status"] == KeyStatus.RETIRED and not facts["ended"]:
                self.call(where, services.retire_key, key=key, actor=self.actor)
        for key, facts in added:
            ended = facts["status"] == KeyStatus.RETIRED and facts["ended"]
            if facts["status"] == KeyStatus.REVOKED or ended:
                reason = (
                    f"retired before import; its validity ended at {rfc3339(facts['validUntil'])}"
                    if ended
                    else facts["revocationReason"] or "revoked before import"
                )
                self.call(where, services.revoke_key, key=key, actor=self.actor, reason=reason)

    def states(self, where: str, participant: Participant, review: str, status: str, credentials) -> None:
        """Reach the record's states through the services. Rejected and offboarded are both final: an offboarded
        record becomes the tombstone (its review need not be replayed), a rejected one is not also suspended
        (it can never authenticate anyway)."""
        if review == ReviewStatus.REJECTED and status != OperationalStatus.OFFBOARDED:
            self.call(
                where,
                services.reject_participant,
                participant=participant,
                actor=self.actor,
                reason="rejected before import",
            )
        elif status == OperationalStatus.SUSPENDED and review == ReviewStatus.APPROVED:
            self.call(
                where,
                services.suspend_participant,
                participant=participant,
                actor=self.actor,
                reason="suspended before import",
            )
        participant.refresh_from_db()
        if status == OperationalStatus.OFFBOARDED:
            self.to_offboard.append((where, participant))
            return
        self.result.credentials.append({k: v for k, v in credentials.as_json().items() if k != "orgId"})
        if review == ReviewStatus.APPROVED and not participant.is_approved:
            self.result.awaiting_approval.append(str(participant.id))  # four-eyes: a second administrator approves

    def product(self, where: str, product_id: uuid.UUID, row: dict) -> None:
        if product_id in self.products:
            return
        fields = self.read(ProductSerializer, row, where)
        if fields is None:
            return
        withdrawn = fields.pop("withdrawn")
        product = self.call(where, services.create_product, actor=self.actor, product_id=product_id, **fields)
        if product is None:
            return
        self.products[product_id] = product
        self.result.created["products"] += 1
        if withdrawn:
            self.to_withdraw.append((where, product))

    def network(self, where: str, network_id: uuid.UUID, row: dict) -> None:
        network = self.networks.get(network_id)
        if network is None:
            network = self.new_network(where, network_id, row)
        if network is None:
            return
        fields = self.read(MembersSerializer, row, where)  # a network that exists still gains the members it lacks
        if fields is None:
            return
        for index, member in enumerate(fields["members"]):
            self.member(f"{where}.members[{index}]", network, **member)

    def new_network(self, where: str, network_id: uuid.UUID, row: dict) -> ProductNetwork | None:
        fields = self.read(NetworkSerializer, row, where)
        if fields is None:
            return None
        network = self.call(
            where,
            services.create_network,
            actor=self.actor,
            network_id=network_id,
            with_founders=False,
            **fields,
        )
        if network is not None:
            self.networks[network_id] = network
            self.result.created["productNetworks"] += 1
        return network

    def member(self, where: str, network: ProductNetwork, participant: Participant, role: str) -> None:
        if network.memberships.current().filter(participant=participant).exists():
            return
        leaving = any(p.pk == participant.pk for _, p in self.to_offboard)
        if leaving or not participant.can_authenticate:
            self.result.not_restored.append(f"{where}: {participant} — {NOT_RESTORED}.")
            return
        # The role is read here, not by MemberSerializer: a membership that exists or is not restored is not read.
        try:
            role = Role.parse(role or participant.role)
        except ValueError:
            self.errors.append(f"{where}.role: unknown role {role!r}.")
            return
        if (
            self.call(
                where,
                services.add_network_member,
                network=network,
                participant=participant,
                role=role,
                actor=self.actor,
            )
            is not None
        ):
            self.result.created["memberships"] += 1
