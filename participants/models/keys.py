"""Participants' public signing keys: their status and validity, which one is primary (publicKey), and which
operation each key allows now."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ocen_sdk.jws import USABLE_STATUSES, unusable_because

from .participants import KEYS_WITHHELD, Participant


class KeyStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    RETIRED = "RETIRED", "Retired"
    REVOKED = "REVOKED", "Revoked"


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

    def switched_to_by(self, moment):
        """Keys that may be primary and whose switch has come by `moment` (_may_be_primary as a query): a
        participant with none of them that verifies has no usable publicKey."""
        return self.filter(
            status=KeyStatus.ACTIVE, primary_from__lte=moment, key_type__in=settings.OCEN_PARTICIPANT_KEY_TYPES
        )


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
        key of a participant that is not final, neither the only active one nor the primary one (publicKey)."""
        if refusal := self.participant.final_refusal():
            return refusal
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

    def revocation_refused(self, keys, moment, successor: "ParticipantKey | None" = None) -> str | None:
        """Why this key cannot be revoked at `moment`, given its participant's `keys` and the key named to take its
        place as primary, or None. Any key not revoked yet, of a participant that is not final (offboarding revoked
        its keys already; a rejected application's are withheld for good); the primary key (publicKey) only with a
        successor made primary in the same operation, so publicKey never goes null under an active participant."""
        if refusal := self.participant.final_refusal():
            return refusal
        if self.status == KeyStatus.REVOKED:
            return f"{self.kid} is already revoked."
        if primary_key(keys, moment) != self:
            return None
        if successor is None:
            if not any(k.promotion_refused(keys, moment) is None for k in keys if k.pk != self.pk):
                return (
                    f"{self.kid} is the participant's primary key (publicKey) and no other key can take its place: "
                    "add the replacement first, then revoke this key naming it (suspend the participant meanwhile "
                    "if the key is compromised)."
                )
            return f"{self.kid} is the participant's primary key (publicKey): name the key that takes its place."
        if successor.pk == self.pk:
            return f"{self.kid} cannot succeed itself."
        return successor.promotion_refused(keys, moment)

    def successors(self, keys, moment) -> list["ParticipantKey"]:
        """The keys that could take this one's place as primary at `moment` (none unless it is the primary)."""
        if primary_key(keys, moment) != self:
            return []
        return [k for k in keys if k.pk != self.pk and k.promotion_refused(keys, moment) is None]

    def promotion_refused(self, keys, moment) -> str | None:
        """Why this key cannot become primary (now or later), given its participant's `keys`, or None."""
        if refusal := self.participant.change_refused():
            return refusal
        if self.status != KeyStatus.ACTIVE:
            return f"Only an active key can become primary; {self.kid} is {self.get_status_display()}."
        if self.valid_until is not None and self.valid_until <= moment:
            return f"{self.kid} is outside its validity (it ended {self.valid_until:%Y-%m-%d %H:%M} UTC)."
        if self.key_type not in settings.OCEN_PARTICIPANT_KEY_TYPES:
            return f"{self.kid} is an {self.key_type} key, which OCEN_PARTICIPANT_KEY_TYPES does not allow as primary."
        if primary_key(keys, moment) == self:  # a later switch to it would take it out of publicKey now
            return f"{self.kid} is the primary key already."
        return None

    def is_usable_at(self, moment) -> bool:
        return not self.unusable_at(moment)

    def usable_once_published_at(self, moment) -> bool:
        """Whether a verifier would accept this key's signatures at `moment` were its participant's keys not
        withheld: not revoked, and inside its validity (a suspended participant's keys, as reinstating would
        publish them)."""
        return not unusable_because(
            status=self.status, valid_from=self.valid_from, valid_until=self.valid_until, now=moment, withheld=False
        )


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
