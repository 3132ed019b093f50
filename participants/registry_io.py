"""
Registry export and import: organisations, participants with their public keys, products and
product networks, in one JSON document (format `ocen-registry/1`, described in docs/registry-format.md).

Export never contains a secret: client IDs yes, client secrets or their hashes no. Import creates
every record through the same service functions as the admin and the commands (so with their checks,
their audit events and the four-eyes rule), all-or-nothing (one transaction; any refused row refuses
the whole file and names the row), and idempotent: records that exist already (by id) are left as
they are, so importing a file twice changes nothing the second time. A participant created by an
import gets a new client secret, returned once in the result.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import services
from .models import (
    PENDING_REVIEW,
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
from .services import Actor, audit
from .validators import json_problem
from .wire import rfc3339

FORMAT = "ocen-registry/1"
PRODUCT_FLAGS = {
    "isPrivate": "is_private",
    "isEndUseControlled": "is_end_use_controlled",
    "isCollectionControlled": "is_collection_controlled",
    "isAAFlowRequired": "is_aa_flow_required",
    "isMonitoringConsentRequired": "is_monitoring_consent_required",
    "isDerivedDataPartnerRequired": "is_derived_data_partner_required",
}


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
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ImportRefused([f"format: expected {FORMAT!r}."])
    if problem := json_problem(document):
        raise ImportRefused([f"document: {problem}."])
    importer = Importer(document, actor)
    with transaction.atomic():
        importer.run()
        if importer.errors:
            raise ImportRefused(importer.errors)  # rolls back every row written so far
        audit(actor, "registry.imported", created=importer.result.created)
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


def primary_first(keys: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The file's keys with the one to onboard with first: the key that was primary (the ACTIVE one switched
    to last; in a file from before primary keys, the newest ACTIVE one), which onboarding makes primary."""
    active = [entry for entry in keys if entry[1]["status"] == KeyStatus.ACTIVE and not entry[1]["scheduled"]]
    if not active:
        return keys
    switched = [entry for entry in active if entry[1]["primaryFrom"]]
    primary = max(switched, key=lambda entry: entry[1]["primaryFrom"]) if switched else active[-1]
    return [primary, *(entry for entry in keys if entry is not primary)]


def key_facts(key: dict, status: str, until, primary_from, now) -> dict:
    """What the import does with a key of the file: whether its validity has ended, the validity it keeps,
    and whether a switch to it is still to come (`scheduled`)."""
    return {
        **key,
        "status": status,
        "ended": until is not None and until <= now,
        "until": until if until is not None and until > now else None,
        "primaryFrom": primary_from,
        "scheduled": primary_from if primary_from and primary_from > now else None,
    }


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
    earlier records may depend on (a network's creator, a product's lender)."""

    def __init__(self, document: dict, actor: Actor):
        self.document, self.actor = document, actor
        self.result, self.errors = ImportResult(), []
        self.organisations = {o.id: o for o in Organisation.objects.all()}
        self.participants = {p.id: p for p in Participant.objects.select_related("organisation")}
        self.products = {p.id: p for p in Product.objects.all()}
        self.networks = {n.id: n for n in ProductNetwork.objects.select_related("product")}
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
            for where, row in self.rows(name):
                record_id = self.uuid(row.get("id"), f"{where}.id")
                if record_id in seen:
                    self.errors.append(f"{where}.id: {record_id} appears twice in the file.")
                elif record_id is not None:
                    seen.add(record_id)
                    load(where, record_id, row)
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

    def rows(self, name: str) -> list[tuple[str, dict]]:
        rows = self.document.get(name, [])
        if not isinstance(rows, list):
            self.errors.append(f"{name}: must be a list.")
            return []
        result = []
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                result.append((f"{name}[{index}]", row))
            else:
                self.errors.append(f"{name}[{index}]: must be an object.")
        return result

    def uuid(self, value, where: str) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(value))
        except (ValueError, TypeError, AttributeError):
            self.errors.append(f"{where}: {value!r} is not a UUID.")
            return None

    def call(self, where: str, service, **kwargs):
        """Run one service; a refusal becomes an error on the row, with the file's own field names."""
        try:
            return service(**kwargs)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, messages in exc.message_dict.items():
                    self.errors.append(f"{where}.{FILE_NAMES.get(name, name)}: {' '.join(messages)}")
            else:
                self.errors.append(f"{where}: {' '.join(exc.messages)}")
            return None

    def text(self, row: dict, name: str) -> str:
        return str(row.get(name) or "")

    # --- records ------------------------------------------------------------------------------------

    def organisation(self, where: str, org_id: uuid.UUID, row: dict) -> None:
        if org_id in self.organisations:
            return
        fields = {name: self.text(row, name) for name in ("description", "website", "email", "phone")}
        organisation = self.call(
            where, services.create_organisation, actor=self.actor, name=self.text(row, "name"), org_id=org_id, **fields
        )
        if organisation is None:
            return
        self.organisations[org_id] = organisation
        self.result.created["organisations"] += 1
        if row.get("logo"):
            self.logo(where, organisation, row["logo"])

    def logo(self, where: str, organisation: Organisation, encoded) -> None:
        """An organisation's logo from the file (base64), set through the service that checks it."""
        try:
            logo = base64.b64decode(str(encoded), validate=True)
        except ValueError:
            self.errors.append(f"{where}.logo: must be base64.")
            return
        self.call(where, services.set_organisation_logo, organisation=organisation, logo=logo, actor=self.actor)

    def participant(self, where: str, participant_id: uuid.UUID, row: dict) -> None:
        if participant_id in self.participants:
            return
        organisation = self.organisations.get(self.uuid(row.get("orgId"), f"{where}.orgId"))
        review = row.get("participantRoleStatus", ReviewStatus.APPROVED)
        status = row.get("status", OperationalStatus.ACTIVE)
        client_id = row.get("clientId") or None
        keys = self.key_rows(where, row.get("keys"))
        if not self.participant_row_holds(where, organisation, review, status, client_id, keys):
            return
        (first_jwk, first), *others = keys
        credentials = self.call(
            where,
            services.onboard_participant,
            organisation=organisation,
            role=self.text(row, "role"),
            base_url=self.text(row, "baseUrl"),
            public_key=first_jwk,
            actor=self.actor,
            pending=pending(review),
            participant_id=participant_id,
            client_id=client_id,
            key_valid_until=first["until"],
            key_only=row.get("clientAuthentication") == "private_key_jwt",
        )
        if credentials is None:
            return
        participant = credentials.participant
        self.participants[participant_id] = participant
        self.result.created["participants"] += 1
        added = [(participant.keys.get(), first), *self.other_keys(where, participant, others)]
        self.result.created["keys"] += len(added)
        self.key_states(where, added)
        self.states(where, participant, review, status, credentials)

    def participant_row_holds(self, where: str, organisation, review, status, client_id, keys) -> bool:
        """Whether a participant row's own fields can be imported; each that cannot is an error."""
        problems = [
            (organisation is None, "orgId: no such organisation in the registry or the file."),
            (review not in ReviewStatus.values, f"participantRoleStatus: unknown value {review!r}."),
            (status not in OperationalStatus.values, f"status: unknown value {status!r}."),
            (keys == [], "keys: a participant needs at least one key."),
            (client_id is not None and not isinstance(client_id, str), "clientId: must be a string."),
        ]
        self.errors.extend(f"{where}.{message}" for failed, message in problems if failed)
        return keys is not None and not any(failed for failed, _ in problems)

    def other_keys(self, where: str, participant: Participant, others: list) -> list:
        """A participant's keys after its first, each added as the file has it: (key, facts) of those added."""
        added = []
        for index, (jwk, key) in enumerate(others, start=1):
            made = self.call(
                f"{where}.keys[{index}]",
                services.add_participant_key,
                participant=participant,
                public_key=jwk,
                actor=self.actor,
                valid_until=key["until"],
                primary_from=key["scheduled"],
            )
            if made is not None:
                added.append((made, key))
        return added

    def key_rows(self, where: str, rows) -> list[tuple[str, dict]] | None:
        """The file's keys as (public key input, facts); None when one of them is malformed."""
        parsed = [
            self.key_row(f"{where}.keys[{i}]", key) for i, key in enumerate(rows if isinstance(rows, list) else [])
        ]
        return None if None in parsed else primary_first(parsed)

    def key_row(self, where: str, key) -> tuple[str, dict] | None:
        """One key of the file as (public key input, facts), or None (with an error) when it is malformed."""
        if not isinstance(key, dict) or not isinstance(key.get("jwk"), dict):
            self.errors.append(f"{where}.jwk: must be a public JWK object.")
            return None
        status = key.get("status", KeyStatus.ACTIVE)
        if status not in KeyStatus.values:
            self.errors.append(f"{where}.status: unknown value {status!r}.")
            return None
        times = {name: self.instant(key, name, f"{where}.{name}") for name in ("validUntil", "primaryFrom")}
        if None in times.values():
            return None
        kid = key.get("kid") or key["jwk"].get("kid")
        facts = key_facts(key, status, times["validUntil"] or None, times["primaryFrom"] or None, timezone.now())
        return json.dumps({**key["jwk"], **({"kid": kid} if kid else {})}), facts

    def instant(self, row: dict, name: str, where: str):
        """A time of the file (RFC 3339 with its zone); "" when absent; None, with an error, when unreadable."""
        if not row.get(name):
            return ""
        try:
            moment = parse_datetime(str(row[name]))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.errors.append(f"{where}: must be an RFC 3339 time with its zone.")
            return None
        return moment

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
                    f"retired before import; its validity ended at {facts['validUntil']}"
                    if ended
                    else str(facts.get("revocationReason") or "revoked before import")
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
        lender = self.participants.get(self.uuid(row.get("lenderId"), f"{where}.lenderId"))
        if lender is None:
            self.errors.append(f"{where}.lenderId: must be a lender in the registry or the file.")
            return
        fields = {attr: bool(row.get(flag, False)) for flag, attr in PRODUCT_FLAGS.items()}
        product = self.call(
            where,
            services.create_product,
            lender=lender,
            actor=self.actor,
            product_id=product_id,
            name=self.text(row, "name"),
            description=self.text(row, "description"),
            derived_data_description=self.text(row, "derivedDataDescription"),
            **fields,
        )
        if product is None:
            return
        self.products[product_id] = product
        self.result.created["products"] += 1
        if row.get("status") == ProductStatus.WITHDRAWN:
            self.to_withdraw.append((where, product))

    def network(self, where: str, network_id: uuid.UUID, row: dict) -> None:
        network = self.networks.get(network_id)
        if network is None:
            product = self.products.get(self.uuid(row.get("productId"), f"{where}.productId"))
            creator = self.participants.get(self.uuid(row.get("createdBy"), f"{where}.createdBy"))
            if product is None or creator is None:
                self.errors.append(f"{where}: its product and its loan agent must be in the registry or the file.")
                return
            network = self.call(
                where,
                services.create_network,
                product=product,
                loan_agent=creator,
                name=self.text(row, "name"),
                description=self.text(row, "description"),
                actor=self.actor,
                network_id=network_id,
                with_founders=False,
            )
            if network is None:
                return
            self.networks[network_id] = network
            self.result.created["productNetworks"] += 1
        members = row.get("members") or []
        if not isinstance(members, list):
            self.errors.append(f"{where}.members: must be a list.")
            return
        for index, member in enumerate(members):
            if isinstance(member, dict):
                self.member(f"{where}.members[{index}]", network, member)
            else:
                self.errors.append(f"{where}.members[{index}]: must be an object.")

    def member(self, where: str, network: ProductNetwork, member: dict) -> None:
        participant = self.participants.get(self.uuid(member.get("participantId"), f"{where}.participantId"))
        if participant is None:
            self.errors.append(f"{where}.participantId: no such participant in the registry or the file.")
            return
        if network.memberships.current().filter(participant=participant).exists():
            return
        leaving = any(p.pk == participant.pk for _, p in self.to_offboard)
        if leaving or not participant.can_authenticate:
            self.result.not_restored.append(f"{where}: {participant} — {NOT_RESTORED}.")
            return
        try:
            role = Role.parse(str(member.get("role") or participant.role))
        except ValueError:
            self.errors.append(f"{where}.role: unknown role {member.get('role')!r}.")
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
