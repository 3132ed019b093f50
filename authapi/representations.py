"""
Wire shapes of registry data (contract §5.1), rendered straight from model rows: these are the hot
read paths, so no serializer machinery runs per request. `authapi/schemas.py` declares the same
shapes for the OpenAPI document, and a test checks live responses against it.
"""

import datetime as dt
import hashlib
import json

from participants.models import KeyStatus


def rfc3339(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def key_item(key) -> dict:
    item = {**key.verification_jwk(), "validFrom": rfc3339(key.valid_from), "validUntil": rfc3339(key.valid_until)}
    if key.status == KeyStatus.REVOKED:
        item["revokedAt"] = rfc3339(key.revoked_at)
    return item


def current_public_key(keys) -> str | None:
    """The newest ACTIVE key as a compact JSON JWK string (what the OCEN reference client parses)."""
    active = [k for k in keys if k.status == KeyStatus.ACTIVE]
    if not active:
        return None
    newest = max(active, key=lambda k: k.created_at)
    return json.dumps({**newest.jwk, "kid": newest.kid, "use": "sig", "alg": newest.alg}, separators=(",", ":"))


def organisation_document(org) -> dict:
    return {
        "id": str(org.id),
        "participantName": org.name,
        "participantDescription": org.description,
        "participantWebsite": org.website,
        "participantEmail": org.email,
        "participantPhone": org.phone,
        "createdOn": rfc3339(org.created_at),
        "updatedOn": rfc3339(org.updated_at),
    }


def participant_document(participant, keys=None) -> dict:
    """GetParticipantDetails: expects `organisation` selected, and `keys` given or prefetched."""
    keys = list(participant.keys.all()) if keys is None else keys
    return {
        "id": str(participant.id),
        "participantRole": participant.role,
        "baseUrl": participant.base_url,
        "publicKey": current_public_key(keys),
        "publicKeys": jwks_document(keys),
        "participantRoleStatus": participant.review_status,
        "isApproved": participant.is_approved,
        "approvedOn": rfc3339(participant.approved_at),
        "status": participant.status,
        "clientId": participant.client_id,
        "createdOn": rfc3339(participant.created_at),
        "updatedOn": rfc3339(participant.updated_at),
        "participant": organisation_document(participant.organisation),
    }


def jwks_document(keys) -> dict:
    return {"keys": [key_item(k) for k in sorted(keys, key=lambda k: k.created_at, reverse=True)]}


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


def network_participants_document(memberships, roles) -> dict:
    """Members keyed by every role name (empty arrays included), each in the §5.1 shape."""
    document = {role: [] for role in roles}
    for membership in memberships:
        document[membership.role].append(participant_document(membership.participant))
    return document
