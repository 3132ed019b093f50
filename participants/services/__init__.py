"""
Registry workflows: onboarding, review, suspension, credentials, keys, offboarding.

Each function is atomic, writes one AuditEvent in the same transaction as its change, and is the
only implementation of its rule: the admin, the management commands and the API call these.
Input errors and forbidden transitions raise django.core.exceptions.ValidationError.

One module per area: common, organisations, keys, products, lifecycle, subscriptions.
"""

from .common import CLIENT_ID_RE, CLIENT_SECRET_BYTES, Actor, Credentials, audit, create_client
from .keys import SWITCH_TOLERANCE, add_participant_key, promote_participant_key, retire_key, revoke_key
from .lifecycle import (
    OffboardingPlan,
    approve_participant,
    offboard_participant,
    onboard_participant,
    plan_offboarding,
    reinstate_participant,
    reject_participant,
    rotate_client_secret,
    start_review,
    suspend_participant,
    update_participant,
    withdraw_client_secret,
)
from .organisations import ORGANISATION_FIELDS, create_organisation, set_organisation_logo, update_organisation
from .products import (
    PRODUCT_FIELDS,
    add_network_member,
    create_network,
    create_product,
    end_resource_mappings,
    membership_problem,
    network_creator_problem,
    product_owner_problem,
    remove_network_member,
    update_network,
    update_product,
    withdraw_product,
)
from .subscriptions import pause_subscription, resume_subscription, subscribe, unsubscribe

__all__ = [
    "CLIENT_ID_RE",
    "CLIENT_SECRET_BYTES",
    "ORGANISATION_FIELDS",
    "PRODUCT_FIELDS",
    "SWITCH_TOLERANCE",
    "Actor",
    "Credentials",
    "OffboardingPlan",
    "add_network_member",
    "add_participant_key",
    "approve_participant",
    "audit",
    "create_client",
    "create_network",
    "create_organisation",
    "create_product",
    "end_resource_mappings",
    "membership_problem",
    "network_creator_problem",
    "offboard_participant",
    "onboard_participant",
    "pause_subscription",
    "plan_offboarding",
    "product_owner_problem",
    "promote_participant_key",
    "reinstate_participant",
    "reject_participant",
    "remove_network_member",
    "resume_subscription",
    "retire_key",
    "revoke_key",
    "rotate_client_secret",
    "set_organisation_logo",
    "start_review",
    "subscribe",
    "suspend_participant",
    "unsubscribe",
    "update_network",
    "update_organisation",
    "update_participant",
    "update_product",
    "withdraw_client_secret",
    "withdraw_product",
]
