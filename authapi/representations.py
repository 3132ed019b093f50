"""
Wire shapes of registry data (contract §5.1), rendered straight from model rows: these are the hot
read paths, so no serializer machinery runs per request. `authapi/schemas.py` declares the same
shapes for the OpenAPI document, and a test checks live responses against it.
"""

import base64
import datetime as dt
import hashlib
import json

from django.conf import settings
from django.utils import timezone

from participants.models import OperationalStatus, next_primary_switch
from participants.wire import public_jwk, publication, rfc3339, wire_role, wire_roles


def compact_jwk(key) -> str:
    """A key as publicKey carries it: a compact JSON string of its public JWK (what the reference client parses)."""
    return json.dumps(public_jwk(key), separators=(",", ":"))


def organisation_document(org) -> dict:
    logo = bytes(org.logo) if org.logo else None
    return {
        "id": str(org.id),
        "participantName": org.name,
        "participantDescription": org.description,
        "participantWebsite": org.website,
        "participantEmail": org.email,
        "participantPhone": org.phone,
        "participantLogo": base64.b64encode(logo).decode() if logo else None,
        "participantLogoContentType": org.logo_content_type or None if logo else None,
        "createdOn": rfc3339(org.created_at),
        "updatedOn": rfc3339(org.updated_at),
    }


def participant_document(participant, keys=None, *, now=None) -> dict:
    """GetParticipantDetails: every field of the OCEN reference client's ParticipantDetail. Expects
    `organisation` selected, and `keys` given or prefetched."""
    keys = list(participant.keys.all()) if keys is None else keys
    published = publication(participant, keys, now)
    return {
        "id": str(participant.id),
        "participantRole": wire_role(participant.role),
        "baseUrl": participant.base_url,
        "publicKey": compact_jwk(published.primary) if published.primary else None,
        "publicKeys": {"keys": published.items},
        "participantRoleStatus": participant.review_status,
        "isApproved": participant.is_approved,
        "approvedBy": settings.OCEN_REGISTRY_NAME if participant.is_approved else None,
        "approvedOn": rfc3339(participant.approved_at),
        "status": participant.status,
        # Tokens issued before this (its last reinstatement) are refused: verifiers that check tokens offline
        # read it here (the change feed, the snapshot and webhook events carry this document too).
        "tokensValidFrom": rfc3339(participant.tokens_valid_from),
        "clientId": participant.client_id,
        "kcClientId": participant.client_id,
        "createdOn": rfc3339(participant.created_at),
        "updatedOn": rfc3339(participant.updated_at),
        "participant": organisation_document(participant.organisation),
    }


def jwks_document(participant, keys) -> dict:
    return {"keys": publication(participant, keys).items}


def fresh_until(participants_keys) -> dt.datetime | None:
    """The earliest scheduled switch of primary key among (participant, keys) pairs: an answer carrying
    their records must not be cached past it (the reference client reads only publicKey)."""
    now = timezone.now()
    switches = [
        next_primary_switch(keys, now)
        for participant, keys in participants_keys
        if participant.status == OperationalStatus.ACTIVE  # a suspended or offboarded record names no key
    ]
    return min(filter(None, switches), default=None)


def encode(document) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def product_document(product) -> dict:
    """GET /service/products/{id} → {"data": …}."""
    return {
        "data": {
            "id": str(product.id),
            "name": product.name,
            "description": product.description,
            "lenderId": str(product.lender_id),
            "isPrivate": product.is_private,
            "isEndUseControlled": product.is_end_use_controlled,
            "isCollectionControlled": product.is_collection_controlled,
            "isAAFlowRequired": product.is_aa_flow_required,
            "isMonitoringConsentRequired": product.is_monitoring_consent_required,
            "isDerivedDataPartnerRequired": product.is_derived_data_partner_required,
            "derivedDataDescription": product.derived_data_description,
            "status": product.status,
            "createdOn": rfc3339(product.created_at),
            "updatedOn": rfc3339(product.updated_at),
        }
    }


def network_document(network, member_count: int) -> dict:
    return {
        "id": str(network.id),
        "name": network.name,
        "description": network.description,
        "createdBy": str(network.created_by_id),
        "memberCount": member_count,
        "product": product_document(network.product)["data"],
        "createdOn": rfc3339(network.created_at),
        "updatedOn": rfc3339(network.updated_at),
    }


def network_participants_document(memberships) -> dict:
    """Members keyed by every role name (empty arrays included), each in the §5.1 shape."""
    document = {role: [] for role in wire_roles()}
    for membership in memberships:
        document.setdefault(wire_role(membership.role), []).append(participant_document(membership.participant))
    return document
