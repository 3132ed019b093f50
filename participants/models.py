import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone

from ocen_sdk.jws import USABLE_STATUSES, unusable_because


class Role(models.TextChoices):
    LENDER = "LENDER", "Lender"
    LOAN_AGENT = "LOAN_AGENT", "Loan agent"
    DISBURSEMENT_PARTNER = "DISBURSEMENT_PARTNER", "Disbursement partner"
    COLLECTIONS_PARTNER = "COLLECTIONS_PARTNER", "Collections partner"
    DERIVED_DATA_PARTNER = "DERIVED_DATA_PARTNER", "Derived data partner"
    KYC_PARTNER = "KYC_PARTNER", "KYC partner"
    ADMIN = "ADMIN", "Admin"
    REGULATOR = "REGULATOR", "Regulator"

    @classmethod
    def parse(cls, value: str) -> "Role":
        """The role a name means: its own name, or the OCEN reference client's spelling (ROLE_ALIASES)."""
        normalised = (value or "").strip().upper()
        return cls(ROLE_ALIASES.get(normalised, normalised))

    @classmethod
    def accepted_names(cls) -> list[str]:
        """Every name input accepts for a role."""
        return [*cls.values, *ROLE_ALIASES]


# The OCEN reference client's enum spells one role differently; its name is accepted everywhere, and is
# what the wire says under OCEN_ROLE_SPELLING=reference (participants/wire.py).
ROLE_ALIASES = {"DERIVED_DATA_PROVIDER": Role.DERIVED_DATA_PARTNER}
# The roles the reference client's enum has: it refuses any other.
REFERENCE_ROLES = tuple(
    role.value
    for role in (
        Role.LENDER,
        Role.LOAN_AGENT,
        Role.DISBURSEMENT_PARTNER,
        Role.COLLECTIONS_PARTNER,
        Role.DERIVED_DATA_PARTNER,
        Role.KYC_PARTNER,
    )
)


class ReviewStatus(models.TextChoices):
    APPLIED = "APPLIED", "Applied"
    UNDER_REVIEW = "UNDER_REVIEW", "Under review"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"


# An application waiting for a decision: approval and rejection are made from these, and only these.
PENDING_REVIEW = (ReviewStatus.APPLIED, ReviewStatus.UNDER_REVIEW)


class OperationalStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    OFFBOARDED = "OFFBOARDED", "Offboarded"


class KeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    RETIRED = "RETIRED", "Retired"
    REVOKED = "REVOKED", "Revoked"


NOT_OFFBOARDED = ~Q(status=OperationalStatus.OFFBOARDED)  # a current participant: QuerySet.current()
# A participant that holds its organisation's place in its role: neither offboarded nor rejected (both final;
# a new application in that role is a new record).
HOLDS_ITS_PLACE = NOT_OFFBOARDED & ~Q(review_status=ReviewStatus.REJECTED)
# Its keys are published withheld (Participant.keys_withheld, the same rule for one row).
KEYS_WITHHELD = Q(status=OperationalStatus.SUSPENDED) | Q(review_status=ReviewStatus.REJECTED)


class OrganisationQuerySet(models.QuerySet):
    def named(self, name: str):
        """The organisation called `name`. Names are unique ignoring case and surrounding spaces: the
        comparison of the constraint organisation_name_unique_ci, made by the database."""
        return self.filter(Exact(Lower("name"), Lower(Value(Organisation.tidy_name(name)))))


class Organisation(models.Model):
    """A legal entity (bank, NBFC, fintech); it may hold several participant roles."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # An optional logo, published as participantLogo (base64) in its participants' records: PNG or JPEG,
    # at most LOGO_MAX_BYTES, checked by content (participants/validators.py).
    logo = models.BinaryField(null=True, blank=True)
    logo_content_type = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="organisation_name_unique_ci",
                violation_error_message="An organisation with this name already exists.",
            )
        ]

    def __str__(self):
        return self.name

    @staticmethod
    def tidy_name(name: str | None) -> str:
        return (name or "").strip()


# Who may authenticate (obtain tokens, use them, call the registry), field by field.
MAY_AUTHENTICATE = {"review_status": ReviewStatus.APPROVED, "status": OperationalStatus.ACTIVE}


def may_authenticate(via: str = "") -> Q:
    """The registry's one rule for who may authenticate (obtain tokens, use them, call the registry):
    an approved participant that is active (neither suspended nor offboarded). `via` is the lookup path
    from the model being filtered to its Participant, e.g. "application__participant__" for tokens.

    Only current participants hold an OAuth client (database constraints), so "client present" follows.
    `Participant.can_authenticate` is the same rule for one loaded row; tests hold the two together,
    and the registry's compiled hot statements (authapi/compiled.py) are built from this filter.
    """
    return Q(**{f"{via}{field}": value for field, value in MAY_AUTHENTICATE.items()})


# Participant.state as filters: each participant is in exactly one.
PARTICIPANT_STATES = {
    ReviewStatus.APPLIED.label: Q(review_status=ReviewStatus.APPLIED) & NOT_OFFBOARDED,
    ReviewStatus.UNDER_REVIEW.label: Q(review_status=ReviewStatus.UNDER_REVIEW) & NOT_OFFBOARDED,
    ReviewStatus.REJECTED.label: Q(review_status=ReviewStatus.REJECTED) & NOT_OFFBOARDED,
    OperationalStatus.ACTIVE.label: Q(review_status=ReviewStatus.APPROVED, status=OperationalStatus.ACTIVE),
    OperationalStatus.SUSPENDED.label: Q(review_status=ReviewStatus.APPROVED, status=OperationalStatus.SUSPENDED),
    OperationalStatus.OFFBOARDED.label: Q(status=OperationalStatus.OFFBOARDED),
}


class ParticipantQuerySet(models.QuerySet):
    def current(self):
        """Not offboarded: active or suspended, under review or not."""
        return self.filter(NOT_OFFBOARDED)

    def holding_place(self):
        """Neither offboarded nor rejected: the one participant per organisation and role (HOLDS_ITS_PLACE)."""
        return self.filter(HOLDS_ITS_PLACE)

    def active(self):
        """Approved and active: the participants that may obtain tokens and call the registry."""
        return self.filter(may_authenticate())

    def republished(self, now=None) -> int:
        """Their published records changed (organisation, logo, keys, primary key): move updatedOn, the
        change stamp that renderings, ETags and incremental sync follow."""
        return self.update(updated_at=now or timezone.now())

    def with_records(self):
        """With what a published record shows: the organisation, and the keys newest first."""
        return self.select_related("organisation").prefetch_related(
            models.Prefetch("keys", queryset=ParticipantKey.objects.order_by("-created_at"))
        )

    def get_with_keys(self, pk) -> tuple["Participant", list["ParticipantKey"]]:
        """A participant with its organisation and its keys, newest first, in one query (keys carry their
        participant; a participant without keys costs a second)."""
        keys = list(
            ParticipantKey.objects.select_related("participant__organisation")
            .filter(participant_id=pk)
            .order_by("-created_at")
        )
        if keys:
            return keys[0].participant, keys
        return self.select_related("organisation").get(pk=pk), keys


class Participant(models.Model):
    """A participant role of an organisation; its id is the OCEN participantId."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="participant ID")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="participants")
    role = models.CharField(max_length=32, choices=Role.choices)
    base_url = models.URLField(max_length=500, verbose_name="API base URL")
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.APPLIED, verbose_name="review status"
    )
    status = models.CharField(max_length=16, choices=OperationalStatus.choices, default=OperationalStatus.ACTIVE)
    # The OAuth client; deleted (with its tokens) at offboarding, when this becomes NULL.
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="participant",
    )
    # Kept after offboarding so the tombstone still names the client it had.
    client_id = models.CharField(max_length=100, unique=True, verbose_name="client ID")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    # Tokens issued before this moment are never honoured again. Set at reinstatement: a suspension revokes
    # every token, including one a grant was writing while the suspension committed.
    tokens_valid_from = models.DateTimeField(null=True, blank=True)
    # Key-only since then: the client secret was withdrawn (or never issued); only private_key_jwt works.
    secret_withdrawn_at = models.DateTimeField(null=True, blank=True, verbose_name="client secret withdrawn")
    offboarded_at = models.DateTimeField(null=True, blank=True)
    # Set by the onboarding service with the same instant as approved_at, so approval never precedes creation.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name", "role"]
        permissions = [
            ("review_participant", "Can approve or reject participants"),
            ("suspend_participant", "Can suspend or reinstate participants"),
            ("rotate_client_secret", "Can rotate a participant's client secret"),
            ("offboard_participant", "Can offboard participants"),
        ]
        indexes = [
            # The registry list and updatedSince sync page in (updated_at, id) order; with role and status
            # carried in the index, paging and counting are index-only scans (docs/performance.md).
            models.Index(fields=["updated_at", "id"], include=["role", "status"], name="participant_sync_order"),
            # The console's dashboard: counts by state, role and week of onboarding read this index alone, and
            # the review queue (APPLIED, UNDER_REVIEW, oldest first) is a short range of it.
            models.Index(fields=["review_status", "status", "role", "created_at"], name="participant_dashboard"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "role"],
                condition=HOLDS_ITS_PLACE,
                name="participant_one_current_per_org_role",
                violation_error_message="This organisation already has a participant in this role.",
            ),
            models.CheckConstraint(
                condition=~Q(status=OperationalStatus.OFFBOARDED) | Q(application__isnull=True),
                name="participant_offboarded_has_no_client",
            ),
            models.CheckConstraint(
                condition=Q(status=OperationalStatus.OFFBOARDED) | Q(application__isnull=False),
                name="participant_current_has_client",
            ),
        ]

    def __str__(self):
        return f"{self.organisation.name} — {self.get_role_display()}"

    @property
    def is_approved(self) -> bool:
        return self.review_status == ReviewStatus.APPROVED

    @property
    def can_authenticate(self) -> bool:
        """`may_authenticate()` for this row: only an approved, active participant may obtain tokens or
        call the registry API."""
        return all(getattr(self, field) == value for field, value in MAY_AUTHENTICATE.items())

    @property
    def key_only(self) -> bool:
        return self.secret_withdrawn_at is not None

    @property
    def client_auth_methods(self) -> list[str]:
        """How this participant's client may authenticate at the token endpoint (RFC 8414 names)."""
        secret = [] if self.key_only else ["client_secret_basic", "client_secret_post"]
        return [*secret, "private_key_jwt"]

    @property
    def keys_withheld(self) -> bool:
        """While suspended, or once rejected, its keys are published withheld (and publicKey is null): no verifier
        accepts them."""
        return self.status == OperationalStatus.SUSPENDED or self.is_rejected

    @property
    def is_offboarded(self) -> bool:
        return self.status == OperationalStatus.OFFBOARDED

    @property
    def is_rejected(self) -> bool:
        return self.review_status == ReviewStatus.REJECTED

    @property
    def is_final(self) -> bool:
        """Offboarded and rejected records are kept as they are: no service changes them again."""
        return self.is_offboarded or self.is_rejected

    def approval_refused(self, user) -> str | None:
        """Why `user` (None: no named administrator) may not approve this participant now, or None. With
        four-eyes on (OCEN_FOUR_EYES), not the administrator who recorded it."""
        if self.review_status == ReviewStatus.APPROVED:
            return "This participant is already approved."
        if self.review_status == ReviewStatus.APPLIED:
            return "This application has not been reviewed: start its review first."
        if self.review_status != ReviewStatus.UNDER_REVIEW:
            return f"Only an application under review can be approved; this one is {self.state}."
        if settings.OCEN_FOUR_EYES:
            if getattr(user, "pk", None) is None:
                return "Four-eyes approval needs a named administrator."
            if user.pk == self.recorded_by_id:
                return "Four-eyes rule: the administrator who recorded this participant cannot approve it."
        return None

    @property
    def state(self) -> str:
        """One word for what the registry does with this participant: its review status until it is approved
        (an application is not active whatever its operational status), then its operational status. The same
        rule as a query, per state: PARTICIPANT_STATES."""
        if self.is_approved or self.is_offboarded:
            return self.get_status_display()
        return self.get_review_status_display()


class ParticipantKeyQuerySet(models.QuerySet):
    def usable_at(self, moment):
        """Keys a verifier accepts signatures by at `moment`: ParticipantKey.is_usable_at (ocen_sdk's
        unusable_because) as a query, for counting over the whole registry."""
        return (
            self.filter(status__in=USABLE_STATUSES)
            .exclude(Q(valid_from__gt=moment) | Q(valid_until__lte=moment))
            .exclude(participant__in=Participant.objects.filter(KEYS_WITHHELD))
        )

    @staticmethod
    def expiring(start, end) -> Q:
        """Active keys still valid at `start` whose validity ends before `end`: the ones an operator must
        replace soon (usable_at's validity rule: a key is expired from its valid_until on)."""
        return Q(status=KeyStatus.ACTIVE, valid_until__gt=start, valid_until__lt=end)

    def expiring_between(self, start, end):
        return self.filter(self.expiring(start, end))


class ParticipantKey(models.Model):
    """A participant's public signing key, stored as a normalised public JWK."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="keys")
    kid = models.CharField(max_length=200, verbose_name="key ID (kid)")
    jwk = models.JSONField(verbose_name="public JWK")
    key_type = models.CharField(max_length=8)
    alg = models.CharField(max_length=8)
    key_size = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=64, verbose_name="SHA-256 fingerprint")
    cert_subject = models.CharField(max_length=500, blank=True, verbose_name="certificate subject")
    cert_issuer = models.CharField(max_length=500, blank=True, verbose_name="certificate issuer")
    cert_serial = models.CharField(max_length=100, blank=True, verbose_name="certificate serial")
    status = models.CharField(max_length=8, choices=KeyStatus.choices, default=KeyStatus.ACTIVE)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    # When this key becomes (or became) its participant's primary key, the one publicKey names; None for a
    # key published for set-aware verifiers but never switched to. See primary_key().
    primary_from = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ParticipantKeyQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "-created_at"]
        verbose_name = "participant key"
        # What expires soon (the dashboard, the key expiry filter): a range of active keys' ends.
        indexes = [models.Index(fields=["valid_until"], condition=Q(status="ACTIVE"), name="key_active_expiry")]
        constraints = [
            models.UniqueConstraint(fields=["participant", "kid"], name="participant_key_unique_kid"),
            models.UniqueConstraint(fields=["participant", "fingerprint"], name="participant_key_unique_fingerprint"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="participant_key_validity_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status=KeyStatus.REVOKED) | Q(revoked_at__isnull=False),
                name="participant_key_revoked_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.kid} ({self.get_status_display()})"

    def unusable_at(self, moment) -> str:
        """Why a verifier refuses signatures by this key at `moment` ("" when it accepts them): the toolkit's
        rule (ocen_sdk.jws.unusable_because), applied to this row as it is published."""
        return unusable_because(
            status=self.status,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            now=moment,
            withheld=self.participant.keys_withheld,
        )

    def retirement_refused(self, keys, moment) -> str | None:
        """Why this key cannot be retired at `moment`, given its participant's `keys`, or None: only an active
        key that is neither the only active one nor the primary one (publicKey) retires."""
        if self.status != KeyStatus.ACTIVE:
            return f"Only an active key can be retired; {self.kid} is {self.get_status_display()}."
        if not any(k.status == KeyStatus.ACTIVE and k.pk != self.pk for k in keys):
            return (
                f"{self.kid} is the participant's only active key: add its replacement before retiring it "
                "(or revoke it if it is compromised)."
            )
        if primary_key(keys, moment) == self:
            return (
                f"{self.kid} is the participant's primary key (publicKey): make its successor primary before "
                "retiring it (or revoke it if it is compromised)."
            )
        return None

    def is_usable_at(self, moment) -> bool:
        return not self.unusable_at(moment)


def _may_be_primary(key) -> bool:
    """An ACTIVE key of a type OCEN_PARTICIPANT_KEY_TYPES allows, with a switch to it at some time."""
    return (
        key.status == KeyStatus.ACTIVE
        and key.primary_from is not None
        and key.key_type in settings.OCEN_PARTICIPANT_KEY_TYPES
    )


def primary_key(keys, moment) -> ParticipantKey | None:
    """A participant's primary key at `moment`, of its `keys`: of those that may be primary and whose switch
    time has come, the one switched to last. It is what the record's publicKey names (the OCEN reference
    client reads no other key); the others stay published in publicKeys for verifiers that read the set."""
    switched = [k for k in keys if _may_be_primary(k) and k.primary_from <= moment]
    return max(switched, key=lambda k: (k.primary_from, k.created_at), default=None)


def next_primary_switch(keys, moment):
    """When the next scheduled switch of primary key happens after `moment`, or None."""
    return min((k.primary_from for k in keys if _may_be_primary(k) and k.primary_from > moment), default=None)


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only")

    def delete(self):
        raise TypeError("Audit events are append-only")


class AuditEvent(models.Model):
    """Append-only record of a state change: who did what to which participant, when, from where."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=200, help_text="Who acted: a username, 'cli:…' or 'system'.")
    action = models.CharField(max_length=64, db_index=True)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["participant", "-at"], name="audit_participant_at")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only")


# --- Change feed (GET /service/changes, issue 16) -----------------------------------------------------


class ChangeKind(models.TextChoices):
    """The records the change feed names: each is looked up again, as it is now, when the feed is read."""

    PARTICIPANT = "participant", "Participant"
    PRODUCT = "product", "Product"
    NETWORK = "network", "Product network"


class EventType(models.TextChoices):
    """What a change did, as webhook subscribers choose and receive it (the feed's `type`)."""

    PARTICIPANT = "participant.changed", "A participant's record (organisation, base URL, role, new participants)"
    STATUS = "status.changed", "A participant's status (approval, suspension, reinstatement, offboarding)"
    KEYS = "keys.changed", "A participant's keys (added, primary switch scheduled or made, retired, revoked)"
    PRODUCT = "product.changed", "A product"
    NETWORK = "network.changed", "A product network or its members"

    @classmethod
    def of(cls, kind: str, action: str) -> "EventType":
        """The type of the change an audited `action` made to a record of `kind`."""
        if kind != ChangeKind.PARTICIPANT:
            return cls.PRODUCT if kind == ChangeKind.PRODUCT else cls.NETWORK
        if action.startswith("key."):
            return cls.KEYS
        return cls.STATUS if action in STATUS_ACTIONS else cls.PARTICIPANT


STATUS_ACTIONS = {
    "participant.review_started",
    "participant.approved",
    "participant.rejected",
    "participant.suspended",
    "participant.reinstated",
    "participant.offboarded",
}


class ChangeQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The change feed is append-only")

    def after(self, seq: int):
        return self.filter(seq__gt=seq).order_by("seq")

    def retention_horizon(self) -> int:
        """The newest entry older than the feed keeps (OCEN_CHANGE_RETENTION_DAYS), or 0: a reader behind it
        has missed entries that are gone or may go at any moment (trim_changes keeps this one as the mark)."""
        cutoff = timezone.now() - dt.timedelta(days=settings.OCEN_CHANGE_RETENTION_DAYS)
        return self.filter(at__lt=cutoff).order_by("-at", "-seq").values_list("seq", flat=True).first() or 0

    def newest(self) -> int:
        return self.order_by("-seq").values_list("seq", flat=True).first() or 0


class Change(models.Model):
    """One entry of the change feed: the record of `kind` with `object_id` changed, in what participants see
    of one another. Appended in the transaction that made the change (services.common.record_changes), in
    commit order: a reader that has seen `seq` N has seen every entry below it."""

    seq = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    object_id = models.UUIDField()
    type = models.CharField(max_length=32, choices=EventType.choices, default=EventType.PARTICIPANT)
    at = models.DateTimeField(default=timezone.now)

    objects = ChangeQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["at"], name="change_at")]  # retention trims by age

    def __str__(self):
        return f"#{self.seq} {self.kind} {self.object_id}"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    PAUSED = "PAUSED", "Paused"


class SubscriptionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=SubscriptionStatus.ACTIVE)

    def wanting(self, types, participants=()) -> list:
        """The ids of active subscriptions that take one of these event types, or are these participants'."""
        types, participants = set(types), set(participants)
        rows = self.active().values_list("pk", "participant_id", "events")
        return [pk for pk, owner, events in rows if owner in participants or types & set(events)]


class Subscription(models.Model):
    """A participant's webhook: signed events for the changes of the chosen types, delivered in feed order
    (authapi/webhooks.py). `delivered_seq` is its cursor in the change feed: every change up to it has been
    delivered or was not of a chosen type."""

    MAX_PER_PARTICIPANT = 10

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    participant = models.ForeignKey("Participant", on_delete=models.CASCADE, related_name="subscriptions")
    url = models.URLField(max_length=500)
    events = models.JSONField(help_text="The event types it takes (EventType values).")
    status = models.CharField(max_length=8, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_seq = models.BigIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "url"], name="subscription_url_once")]

    def __str__(self):
        return self.url

    def backing_off(self, now) -> bool:
        return self.next_attempt_at is not None and self.next_attempt_at > now


# --- Product registry (contract §2, second phase) ---------------------------------------------------


class ProductStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


class ProductQuerySet(models.QuerySet):
    def visible_to(self, participant_id):
        """Public products, and private ones to their lender and to members of one of their networks."""
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


# --- Operators (the console's staff users) --------------------------------------------------------------


class OperatorSession(models.Model):
    """A console session, by user: what the sessions page lists and "sign out everywhere" ends. The session
    itself is Django's (django_session); this row says whose it is, from where, and when it was last used."""

    session_key = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="operator_session_user")]

    def __str__(self):
        return f"{self.user} from {self.address or '?'}"
