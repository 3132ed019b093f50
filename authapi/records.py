"""The records a caller may see, as the lookups answer them now: what the change feed, the snapshot and webhook
events carry. Who may see which record is the models' rule (Product.objects.visible_to and the like); this module
renders them (representations.py)."""

from participants.models import ChangeKind, NetworkMembership, Participant, Product, ProductNetwork
from participants.wire import wire_role

from .representations import network_document, participant_document, product_document


def network_record(network) -> dict:
    """A network as GetProductNetwork answers it, with the members it lists (GetProductNetworkParticipants,
    by id and role: their records are the participants' own)."""
    listed = list(
        NetworkMembership.objects.listed_in(network).order_by("role", "added_at").values("participant_id", "role")
    )
    return {
        **network_document(network, len(listed)),
        "members": [{"id": str(m["participant_id"]), "role": wire_role(m["role"])} for m in listed],
    }


class Records:
    """The records a caller may see, by kind, as the lookups answer them now: None for one it may not see
    (a private product outside its reach, or a network of one); a withdrawn product as its lookup answers it."""

    def __init__(self, caller_id):
        self.caller_id = caller_id

    def participants(self, ids):
        found = Participant.objects.with_records().in_bulk(ids)
        return {pk: participant_document(p) for pk, p in found.items()}

    def visible_products(self):
        return Product.objects.visible_to(self.caller_id)

    def visible_networks(self):
        return ProductNetwork.objects.visible_to(self.caller_id)

    def products(self, ids):
        return {p.pk: product_document(p)["data"] for p in self.visible_products().filter(pk__in=ids)}

    def networks(self, ids):
        found = self.visible_networks().filter(pk__in=ids).select_related("product")
        return {n.pk: network_record(n) for n in found}

    def of(self, kind: str, ids) -> dict:
        return {
            ChangeKind.PARTICIPANT: self.participants,
            ChangeKind.PRODUCT: self.products,
            ChangeKind.NETWORK: self.networks,
        }[kind](ids)
