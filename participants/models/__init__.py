"""The registry's domain records, one area a module:

- participants: roles, review and operational status, ParticipantState, who may authenticate, each operation's rule
- organisations: the legal entities holding roles
- keys: participants' public keys, which is primary, which operation each allows
- audit: AuditAction (every action, with its change feed type) and AuditEvent
- changes: the change feed's entries (Change)
- subscriptions: webhook subscriptions
- products: credit products, product networks, memberships, and who may see them
- operators: console sessions
- issuance: tokens issued per hour
"""

from .audit import AuditAction, AuditEvent
from .changes import Change, ChangeKind, EventType
from .issuance import TokenIssuance
from .keys import KeyStatus, ParticipantKey, next_primary_switch, primary_key
from .operators import OperatorSession
from .organisations import Organisation
from .participants import (
    HOLDS_ITS_PLACE,
    KEYS_WITHHELD,
    MAY_AUTHENTICATE,
    NOT_OFFBOARDED,
    PARTICIPANT_STATES,
    PENDING_REVIEW,
    REFERENCE_ROLES,
    ROLE_ALIASES,
    OperationalStatus,
    Participant,
    ParticipantState,
    ReviewStatus,
    Role,
    may_authenticate,
)
from .products import NetworkMembership, Product, ProductNetwork, ProductStatus
from .subscriptions import Subscription, SubscriptionStatus

__all__ = [
    "HOLDS_ITS_PLACE",
    "KEYS_WITHHELD",
    "MAY_AUTHENTICATE",
    "NOT_OFFBOARDED",
    "PARTICIPANT_STATES",
    "PENDING_REVIEW",
    "REFERENCE_ROLES",
    "ROLE_ALIASES",
    "AuditAction",
    "AuditEvent",
    "Change",
    "ChangeKind",
    "EventType",
    "KeyStatus",
    "NetworkMembership",
    "OperationalStatus",
    "OperatorSession",
    "Organisation",
    "Participant",
    "ParticipantKey",
    "ParticipantState",
    "Product",
    "ProductNetwork",
    "ProductStatus",
    "ReviewStatus",
    "Role",
    "Subscription",
    "SubscriptionStatus",
    "TokenIssuance",
    "may_authenticate",
    "next_primary_switch",
    "primary_key",
]
