"""Participants: an organisation's role in the network, its review and operational status, and the rules of
what the registry does with it (who may authenticate, each state, which operation each state allows)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .organisations import Organisation


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


NOT_OFFBOARDED = ~Q(status=OperationalStatus.OFFBOARDED)  # a current participant: QuerySet.current()
# A participant that holds its organisation's place in its role: neither offboarded nor rejected (both final;
# a new application in that role is a new record).
HOLDS_ITS_PLACE = NOT_OFFBOARDED & ~Q(review_status=ReviewStatus.REJECTED)
# Its keys are published withheld (Participant.keys_withheld, the same rule for one row).
KEYS_WITHHELD = Q(status=OperationalStatus.SUSPENDED) | Q(review_status=ReviewStatus.REJECTED)


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


class ParticipantState(models.TextChoices):
    """What the registry does with a participant, in one word (Participant.state): its review status until it is
    approved (an application is not active whatever its operational status), then its operational status."""

    APPLIED = "APPLIED", "Applied"
    UNDER_REVIEW = "UNDER_REVIEW", "Under review"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    REJECTED = "REJECTED", "Rejected"
    OFFBOARDED = "OFFBOARDED", "Offboarded"


# Participant.state as filters: each participant is in exactly one.
PARTICIPANT_STATES = {
    ParticipantState.APPLIED: Q(review_status=ReviewStatus.APPLIED) & NOT_OFFBOARDED,
    ParticipantState.UNDER_REVIEW: Q(review_status=ReviewStatus.UNDER_REVIEW) & NOT_OFFBOARDED,
    ParticipantState.REJECTED: Q(review_status=ReviewStatus.REJECTED) & NOT_OFFBOARDED,
    ParticipantState.ACTIVE: Q(review_status=ReviewStatus.APPROVED, status=OperationalStatus.ACTIVE),
    ParticipantState.SUSPENDED: Q(review_status=ReviewStatus.APPROVED, status=OperationalStatus.SUSPENDED),
    ParticipantState.OFFBOARDED: Q(status=OperationalStatus.OFFBOARDED),
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

    def _keys(self) -> models.QuerySet:
        """ParticipantKey's rows, reached through the relation (models/keys.py imports this module, not the reverse)."""
        return self.model.keys.rel.related_model.objects

    def with_records(self):
        """With what a published record shows: the organisation, and the keys newest first."""
        return self.select_related("organisation").prefetch_related(
            models.Prefetch("keys", queryset=self._keys().order_by("-created_at"))
        )

    def get_with_keys(self, pk) -> tuple["Participant", list]:
        """A participant with its organisation and its keys, newest first, in one query (keys carry their
        participant; a participant without keys costs a second)."""
        keys = list(
            self._keys().select_related("participant__organisation").filter(participant_id=pk).order_by("-created_at")
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

    @property
    def state(self) -> ParticipantState:
        """What the registry does with this participant (ParticipantState); the same rule as a query, per state:
        PARTICIPANT_STATES."""
        if self.is_offboarded:
            return ParticipantState.OFFBOARDED
        if self.is_approved:
            return ParticipantState(self.status)
        return ParticipantState(self.review_status)

    def get_state_display(self) -> str:
        return self.state.label

    # --- which operation each state allows: one rule each, asked by the services, the console and the commands.
    # Each answers why the operation is refused now, or None when the registry would carry it out.

    def final_refusal(self) -> str | None:
        """Offboarded and rejected records are final (is_final): no operation changes them again."""
        if self.is_offboarded:
            return "This participant has been offboarded; its record is kept only as a tombstone."
        if self.is_rejected:
            return "This application was rejected, which is final; a new application is a new record."
        return None

    def review_start_refused(self) -> str | None:
        if refusal := self.final_refusal():
            return refusal
        if self.review_status != ReviewStatus.APPLIED:
            return f"Only an application received (Applied) can go under review; this one is {self.state.label}."
        return None

    def approval_refused(self, user) -> str | None:
        """Why `user` (None: no named administrator) may not approve this participant now, or None. With
        four-eyes on (OCEN_FOUR_EYES), not the administrator who recorded it."""
        if refusal := self.final_refusal():
            return refusal
        if self.review_status == ReviewStatus.APPROVED:
            return "This participant is already approved."
        if self.review_status == ReviewStatus.APPLIED:
            return "This application has not been reviewed: start its review first."
        if settings.OCEN_FOUR_EYES:
            if getattr(user, "pk", None) is None:
                return "Four-eyes approval needs a named administrator."
            if user.pk == self.recorded_by_id:
                return "Four-eyes rule: the administrator who recorded this participant cannot approve it."
        return None

    def rejection_refused(self) -> str | None:
        if refusal := self.final_refusal():
            return refusal
        if self.review_status not in PENDING_REVIEW:
            return (
                f"Only applications under review can be rejected (this one is {self.state.label}); suspend or "
                "offboard an approved participant instead."
            )
        return None

    def suspension_refused(self) -> str | None:
        if refusal := self.final_refusal():
            return refusal
        if self.status != OperationalStatus.ACTIVE:
            return "Only an active participant can be suspended."
        if not self.is_approved:
            return f"An application ({self.state.label}) is approved or rejected, not suspended."
        return None

    def reinstatement_refused(self) -> str | None:
        if refusal := self.final_refusal():
            return refusal
        if self.state != ParticipantState.SUSPENDED:
            return "Only a suspended participant can be reinstated."
        return None

    def rotation_refused(self) -> str | None:
        """A new client secret: for a participant that has one."""
        if refusal := self.final_refusal():
            return refusal
        if self.key_only:
            return (
                "This participant authenticates with its registered keys only (private_key_jwt): it has no client "
                "secret to rotate. Rotate its key instead (add a key, make it primary, retire the old one)."
            )
        return None

    def secret_withdrawal_refused(self, moment) -> str | None:
        """Key only from now on: for a participant with a secret and a key that verifies at `moment`, or would but
        for being withheld (a leaked secret is withdrawn before reinstating)."""
        if refusal := self.final_refusal():
            return refusal
        if self.key_only:
            return "This participant's client secret was already withdrawn."
        if not any(key.usable_once_published_at(moment) for key in self.keys.all()):
            return (
                "This participant has no key that is active and inside its validity: add one before withdrawing "
                "the secret."
            )
        return None

    def change_refused(self) -> str | None:
        """Its base URL changed, a key added or made primary: any current record that is not final."""
        return self.final_refusal()

    def offboarding_refused(self) -> str | None:
        return self.final_refusal()
