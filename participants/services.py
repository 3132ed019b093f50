"""
Registry workflows: onboarding, review, suspension, credentials, keys, offboarding.

Each function is atomic, writes one AuditEvent in the same transaction as its change, and is the
only implementation of its rule: the admin, the management commands and the API call these.
Input errors and forbidden transitions raise django.core.exceptions.ValidationError.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from . import keys as keylib
from . import wire
from .models import (
    AuditEvent,
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
    primary_key,
)
from .remote import client_address
from .validators import logo_content_type, normalise_base_url

CLIENT_SECRET_BYTES = 32  # 256 bits
CLIENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,100}$")  # what Participant.client_id holds; DOT generates 40 of these
AccessToken = get_access_token_model()
Application = get_application_model()


@dataclass(frozen=True)
class Actor:
    """Who performs a registry operation, for the audit trail."""

    label: str
    user: object | None = None
    remote_addr: str | None = None

    @property
    def db_user(self):
        """The acting user as a database row, or None (command line, system)."""
        return self.user if getattr(self.user, "pk", None) else None

    @classmethod
    def from_request(cls, request) -> Actor:
        user = request.user
        return cls(label=user.get_username(), user=user, remote_addr=client_address(request))

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def cli(cls) -> Actor:
        try:
            name = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            name = "unknown"
        return cls(label=f"cli:{name}")

    @classmethod
    def system(cls) -> Actor:
        return cls(label="system")


@dataclass(frozen=True)
class Credentials:
    """A participant with its client secret, which exists in clear only in this object."""

    participant: Participant
    client_secret: str

    def as_json(self) -> dict:
        return {
            "participantId": str(self.participant.id),
            "orgId": str(self.participant.organisation_id),
            "clientId": self.participant.client_id,
            "clientSecret": self.client_secret,
        }


def audit(actor: Actor, action: str, *, participant=None, organisation=None, **details) -> AuditEvent:
    """Append an audit event. Callers pass facts only, never secrets or private keys."""
    if participant is not None and organisation is None:
        organisation = participant.organisation
    return AuditEvent.objects.create(
        actor=actor.label,
        actor_user=actor.db_user,
        remote_addr=actor.remote_addr,
        action=action,
        participant=participant,
        organisation=organisation,
        details=details,
    )


def _new_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def create_client(*, organisation: Organisation, role: Role, client_id: str | None = None) -> tuple[Application, str]:
    """A confidential client-credentials OAuth client for a participant role, and its one-time secret."""
    secret = _new_client_secret()
    application = Application(
        name=f"{organisation.name} — {role.label}"[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        redirect_uris="",
    )
    if client_id:
        application.client_id = client_id
    application.save()
    return application, secret


def _parse_key(public_key: str | bytes, now: dt.datetime) -> keylib.ParsedKey:
    try:
        return keylib.parse_public_key(public_key, now=now, key_types=settings.OCEN_PARTICIPANT_KEY_TYPES)
    except keylib.KeyRejected as exc:
        raise ValidationError({"public_key": str(exc)}) from None


def _parse_role(role: str) -> Role:
    try:
        return Role.parse(role)
    except ValueError:
        allowed = ", ".join(Role.values)
        raise ValidationError({"role": f"Unknown role {role!r}. Use one of: {allowed}."}) from None


def _base_url(value: str) -> str:
    try:
        return normalise_base_url(value)
    except ValidationError as exc:
        raise ValidationError({"base_url": exc.messages}) from None


def _key_facts(key: ParticipantKey) -> dict:
    return {"kid": key.kid, "fingerprint": key.fingerprint, "alg": key.alg, "keySize": key.key_size}


def _refuse_taken_name(name: str, field: str, *, other_than: Organisation | None = None) -> None:
    taken = Organisation.objects.named(name)
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    if taken.exists():
        raise ValidationError({field: f"An organisation named {name!r} already exists."})


def _resolve_organisation(*, org_name: str, org_id, organisation: Organisation | None):
    """The organisation a participant joins, and whether it was created for it: the one given, the one
    with `org_id` (created with that id if new), or the one named `org_name` (created if new)."""
    if organisation is not None:
        return organisation, False
    name = Organisation.tidy_name(org_name)
    if org_id:
        return _organisation_with_id(org_id, name)
    if not name:
        raise ValidationError({"org_name": "Give the organisation's name."})
    existing = Organisation.objects.named(name).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            return Organisation.objects.create(name=name), True
    except IntegrityError:  # created a moment ago by a concurrent onboarding
        return Organisation.objects.named(name).get(), False


def _organisation_with_id(org_id, name: str) -> tuple[Organisation, bool]:
    try:
        org_uuid = uuid.UUID(str(org_id))
    except ValueError:
        raise ValidationError({"org_id": f"{org_id!r} is not a valid organisation id (UUID)."}) from None
    existing = Organisation.objects.filter(pk=org_uuid).first()
    if existing:
        if name and not Organisation.objects.named(name).filter(pk=org_uuid).exists():
            raise ValidationError({"org_name": f"Organisation {org_uuid} is named {existing.name!r}, not {name!r}."})
        return existing, False
    if not name:
        raise ValidationError({"org_name": "A new organisation needs a name."})
    _refuse_taken_name(name, "org_name")
    return Organisation.objects.create(id=org_uuid, name=name), True


PENDING = (ReviewStatus.APPLIED, ReviewStatus.UNDER_REVIEW)


@transaction.atomic
def onboard_participant(
    *,
    role: str,
    base_url: str,
    public_key: str | bytes,
    actor: Actor,
    org_name: str = "",
    org_id=None,
    organisation: Organisation | None = None,
    pending: ReviewStatus | None = None,
    participant_id: uuid.UUID | None = None,
    client_id: str | None = None,
    key_valid_until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Credentials:
    """Register a participant role with its first key and issue its OAuth client credentials.

    Without the four-eyes setting the participant is approved at once; with it, it waits
    UNDER_REVIEW for a different administrator. `pending` (APPLIED or UNDER_REVIEW) records an
    application that nobody has approved yet. An import keeps its record's `participant_id` and
    `client_id`. The secret is returned here and nowhere else.
    """
    now = now or timezone.now()
    role_value, url, parsed = _application_fields(role, base_url, public_key, now)
    if pending is not None and pending not in PENDING:
        raise ValueError(f"pending must be one of {PENDING}, not {pending!r}")
    org, org_created = _resolve_organisation(org_name=org_name, org_id=org_id, organisation=organisation)
    if Participant.objects.current().filter(organisation=org, role=role_value).exists():
        raise ValidationError({"role": f"{org.name} already has a {role_value.label} participant."})
    if client_id is not None:
        _refuse_client_id(client_id)

    application, secret = create_client(organisation=org, role=role_value, client_id=client_id)
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                **({"id": participant_id} if participant_id else {}),
                organisation=org,
                role=role_value,
                base_url=url,
                application=application,
                client_id=application.client_id,
                recorded_by=actor.db_user,
                created_at=now,
                **_initial_review(pending, actor.db_user, now),
            )
    except IntegrityError:
        raise ValidationError({"role": f"{org.name} already has a {role_value.label} participant."}) from None
    key = _create_key(participant, parsed, now, key_valid_until, primary_from=now)  # the first key is primary

    if org_created:
        audit(actor, "organisation.created", organisation=org, name=org.name)
    audit(
        actor,
        "participant.onboarded",
        participant=participant,
        role=participant.role,
        baseUrl=participant.base_url,
        clientId=participant.client_id,
        reviewStatus=participant.review_status,
        key=_key_facts(key),
    )
    return Credentials(participant=participant, client_secret=secret)


def _application_fields(role: str, base_url: str, public_key, now: dt.datetime):
    """The role, base URL and key of an application, each checked; every field's errors at once."""
    errors: dict = {}

    def attempt(parse, *args):
        try:
            return parse(*args)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            return None

    fields = attempt(_parse_role, role), attempt(_base_url, base_url), attempt(_parse_key, public_key, now)
    if errors:
        raise ValidationError(errors)
    return fields


def _refuse_client_id(client_id: str) -> None:
    """A client ID kept from an import: well-formed, and nobody else's."""
    if not CLIENT_ID_RE.match(client_id):
        raise ValidationError({"client_id": "A client ID is 1 to 100 printable ASCII characters, no spaces."})
    if Participant.objects.filter(client_id=client_id).exists():
        raise ValidationError({"client_id": f"Client ID {client_id!r} belongs to another participant."})


def _initial_review(pending: ReviewStatus | None, user, now: dt.datetime) -> dict:
    """Approved at once, unless four-eyes is on (UNDER_REVIEW) or the application is `pending`."""
    if pending is None and not settings.OCEN_FOUR_EYES:
        return {"review_status": ReviewStatus.APPROVED, "approved_by": user, "approved_at": now}
    return {"review_status": pending or ReviewStatus.UNDER_REVIEW}


def _locked(participant: Participant) -> Participant:
    """Re-read the participant under a row lock, so concurrent operations serialise."""
    return (
        Participant.objects.select_for_update(of=("self",))
        .select_related("organisation", "application")
        .get(pk=participant.pk)
    )


def _refuse_if_offboarded(participant: Participant) -> None:
    if participant.is_offboarded:
        raise ValidationError("This participant has been offboarded; its record is kept only as a tombstone.")


def _revoke_tokens(participant: Participant) -> int:
    if participant.application_id is None:
        return 0
    _total, per_model = AccessToken.objects.filter(application_id=participant.application_id).delete()
    return per_model.get(AccessToken._meta.label, 0)


@transaction.atomic
def approve_participant(*, participant: Participant, actor: Actor, now: dt.datetime | None = None) -> Participant:
    """Approve a participant under review; with four-eyes on, not by the administrator who recorded it."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    if participant.review_status == ReviewStatus.APPROVED:
        raise ValidationError("This participant is already approved.")
    if settings.OCEN_FOUR_EYES:
        if actor.db_user is None:
            raise ValidationError("Four-eyes approval needs a named administrator.")
        if actor.db_user.pk == participant.recorded_by_id:
            raise ValidationError("Four-eyes rule: the administrator who recorded this participant cannot approve it.")
    previous = participant.review_status
    participant.review_status = ReviewStatus.APPROVED
    participant.approved_by = actor.db_user
    participant.approved_at = now or timezone.now()
    participant.save(update_fields=["review_status", "approved_by", "approved_at", "updated_at"])
    audit(actor, "participant.approved", participant=participant, previousReviewStatus=previous)
    return participant


@transaction.atomic
def reject_participant(*, participant: Participant, actor: Actor, reason: str = "") -> Participant:
    """Reject an application that has not been approved; it can never obtain tokens."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    if participant.review_status not in (ReviewStatus.APPLIED, ReviewStatus.UNDER_REVIEW):
        raise ValidationError(
            f"Only applications under review can be rejected (this one is {participant.get_review_status_display()}); "
            "suspend or offboard an approved participant instead."
        )
    participant.review_status = ReviewStatus.REJECTED
    participant.status_reason = reason
    participant.save(update_fields=["review_status", "status_reason", "updated_at"])
    audit(actor, "participant.rejected", participant=participant, reason=reason)
    return participant


@transaction.atomic
def suspend_participant(*, participant: Participant, actor: Actor, reason: str = "") -> Participant:
    """Stop an active participant from authenticating and revoke its tokens; reinstating undoes it."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    if participant.status != OperationalStatus.ACTIVE:
        raise ValidationError("Only an active participant can be suspended.")
    participant.status = OperationalStatus.SUSPENDED
    participant.status_reason = reason
    participant.save(update_fields=["status", "status_reason", "updated_at"])
    revoked = _revoke_tokens(participant)
    audit(actor, "participant.suspended", participant=participant, reason=reason, tokensRevoked=revoked)
    return participant


@transaction.atomic
def reinstate_participant(*, participant: Participant, actor: Actor) -> Participant:
    """Return a suspended participant to service with its existing credentials and keys."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    if participant.status != OperationalStatus.SUSPENDED:
        raise ValidationError("Only a suspended participant can be reinstated.")
    participant.status = OperationalStatus.ACTIVE
    participant.status_reason = ""
    participant.tokens_valid_from = timezone.now()
    participant.save(update_fields=["status", "status_reason", "tokens_valid_from", "updated_at"])
    audit(actor, "participant.reinstated", participant=participant)
    return participant


@transaction.atomic
def rotate_client_secret(*, participant: Participant, actor: Actor) -> Credentials:
    """Issue a new client secret; the old one stops working at once. Issued tokens run to expiry."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    secret = _new_client_secret()
    application = participant.application
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    audit(actor, "participant.secret_rotated", participant=participant, clientId=participant.client_id)
    return Credentials(participant=participant, client_secret=secret)


@transaction.atomic
def update_participant(*, participant: Participant, actor: Actor, base_url: str) -> Participant:
    """Change a participant's API base URL."""
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    url = _base_url(base_url)
    if url == participant.base_url:
        return participant
    previous = participant.base_url
    participant.base_url = url
    participant.save(update_fields=["base_url", "updated_at"])
    audit(actor, "participant.updated", participant=participant, baseUrl=url, previousBaseUrl=previous)
    return participant


ORGANISATION_FIELDS = ("name", "description", "website", "email", "phone")


def _save_changes(instance, values: dict) -> dict:
    """Set the values that differ, validate and save; returns what changed (nothing is saved if nothing did)."""
    changed = {name: value for name, value in values.items() if getattr(instance, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
    return changed


@transaction.atomic
def create_organisation(*, actor: Actor, name: str, org_id: uuid.UUID | None = None, **fields) -> Organisation:
    """Register an organisation ahead of its participants (with `org_id`, the id it has elsewhere)."""
    name = Organisation.tidy_name(name)
    _refuse_taken_name(name, "name")
    organisation = Organisation(name=name, **({"id": org_id} if org_id else {}), **fields)
    organisation.full_clean()
    organisation.save()
    audit(actor, "organisation.created", organisation=organisation, name=organisation.name)
    return organisation


@transaction.atomic
def update_organisation(*, organisation: Organisation, actor: Actor, **fields) -> Organisation:
    """Change an organisation's descriptive fields; its participants' records change with it."""
    unknown = set(fields) - set(ORGANISATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if "name" in fields:
        fields["name"] = Organisation.tidy_name(fields["name"])
        if fields["name"] != organisation.name:
            _refuse_taken_name(fields["name"], "name", other_than=organisation)
    changed = _save_changes(organisation, fields)
    if not changed:
        return organisation
    # Participants' updatedOn covers their organisation's fields, so incremental sync sees the change.
    Participant.objects.filter(organisation=organisation).update(updated_at=timezone.now())
    audit(actor, "organisation.updated", organisation=organisation, changed=changed)
    return organisation


@transaction.atomic
def set_organisation_logo(*, organisation: Organisation, actor: Actor, logo: bytes | None) -> Organisation:
    """Publish (or, with None, remove) an organisation's logo: participantLogo in its participants' records."""
    content_type = ""
    if logo is not None:
        try:
            content_type = logo_content_type(logo)
        except ValidationError as exc:
            raise ValidationError({"logo": exc.messages}) from None
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    organisation.logo, organisation.logo_content_type = logo, content_type
    organisation.save(update_fields=["logo", "logo_content_type", "updated_at"])
    Participant.objects.filter(organisation=organisation).update(updated_at=timezone.now())
    audit(
        actor,
        "organisation.logo_set" if logo else "organisation.logo_removed",
        organisation=organisation,
        contentType=content_type,
        bytes=len(logo or b""),
    )
    return organisation


def _lock_fingerprint(fingerprint: str) -> None:
    """Serialise registrations of one public key until the transaction ends, so "one key, one
    organisation" holds between concurrent onboardings (PostgreSQL; SQLite has one writer anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(fingerprint[:15], 16)])


def _create_key(
    participant: Participant,
    parsed: keylib.ParsedKey,
    now: dt.datetime,
    valid_until: dt.datetime | None = None,
    *,
    primary_from: dt.datetime | None = None,
) -> ParticipantKey:
    _lock_fingerprint(parsed.fingerprint)
    elsewhere = (
        ParticipantKey.objects.filter(fingerprint=parsed.fingerprint)
        .exclude(participant__organisation_id=participant.organisation_id)
        .select_related("participant__organisation")
        .first()
    )
    if elsewhere is not None:
        raise ValidationError(
            {
                "public_key": f"This key is registered to another organisation ({elsewhere.participant.organisation}): "
                "a key identifies one organisation. Ask for a key of this organisation's own."
            }
        )
    if participant.keys.filter(kid=parsed.kid).exists():
        raise ValidationError({"public_key": f"This participant already has a key with kid {parsed.kid!r}."})
    if participant.keys.filter(fingerprint=parsed.fingerprint).exists():
        raise ValidationError({"public_key": "This key is already registered for this participant."})
    try:
        with transaction.atomic():
            return ParticipantKey.objects.create(
                participant=participant,
                kid=parsed.kid,
                jwk=parsed.jwk,
                key_type=parsed.key_type,
                alg=parsed.alg,
                key_size=parsed.key_size,
                fingerprint=parsed.fingerprint,
                cert_subject=parsed.cert_subject,
                cert_issuer=parsed.cert_issuer,
                cert_serial=parsed.cert_serial,
                valid_from=parsed.not_before or now,
                valid_until=min(filter(None, (parsed.not_after, keylib.expiry(valid_until))), default=None),
                primary_from=primary_from,
            )
    except IntegrityError:
        raise ValidationError({"public_key": "This key is already registered for this participant."}) from None


@transaction.atomic
def add_participant_key(
    *,
    participant: Participant,
    public_key: str | bytes,
    actor: Actor,
    valid_until: dt.datetime | None = None,
    primary_from: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ParticipantKey:
    """Register another public key (for rotation with overlap): it is ACTIVE and published at once in
    publicKeys, for verifiers that read the set, and becomes the participant's primary key (the one
    publicKey names) at `primary_from` (now, or a time to come; see promote_participant_key) — or only
    when promoted. `valid_until` is an end the key carries from elsewhere (an imported record), when its
    own input (a JWK) cannot say it."""
    now = now or timezone.now()
    parsed = _parse_key(public_key, now)
    valid_until = keylib.expiry(valid_until)
    if valid_until is not None and valid_until <= now:
        raise ValidationError({"valid_until": "A key's validity cannot end before it is registered."})
    _refuse_switch_in_the_past(primary_from, now)
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    key = _create_key(participant, parsed, now, valid_until, primary_from=primary_from)
    Participant.objects.filter(pk=participant.pk).update(updated_at=now)
    audit(actor, "key.added", participant=participant, key=_key_facts(key), primaryFrom=wire.rfc3339(primary_from))
    return key


def _refuse_switch_in_the_past(moment: dt.datetime | None, now: dt.datetime) -> None:
    if moment is not None and moment < now - SWITCH_TOLERANCE:
        raise ValidationError({"primary_from": "A switch of primary key is now or later, not in the past."})


SWITCH_TOLERANCE = dt.timedelta(seconds=5)  # "now" typed by an operator arrives a moment later


@transaction.atomic
def promote_participant_key(
    *, participant: Participant, kid: str, actor: Actor, at: dt.datetime | None = None
) -> ParticipantKey:
    """Make an ACTIVE key the participant's primary key (the one publicKey names) now, or schedule it for
    `at`. Until then its record's Cache-Control max-age never runs past the switch, so providers that read
    only publicKey (the OCEN reference client) refetch exactly then. The old primary stays ACTIVE — it
    still verifies for verifiers that read publicKeys — until it is retired."""
    now = timezone.now()
    at = at or now
    _refuse_switch_in_the_past(at, now)
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    key = participant.keys.filter(kid=kid).first()
    if key is None:
        raise ValidationError({"kid": f"{participant} has no key {kid!r}."})
    key = _locked_key(key)
    if key.status != KeyStatus.ACTIVE:
        raise ValidationError({"kid": f"Only an active key can become primary; {kid} is {key.get_status_display()}."})
    if key.key_type not in settings.OCEN_PARTICIPANT_KEY_TYPES:
        raise ValidationError(
            {"kid": f"{kid} is an {key.key_type} key, which OCEN_PARTICIPANT_KEY_TYPES does not allow as primary."}
        )
    if primary_key(participant.keys.all(), now) == key:  # a later switch to it would take it out of publicKey now
        raise ValidationError({"kid": f"{kid} is the primary key already."})
    key.primary_from = max(at, now)
    key.save(update_fields=["primary_from"])
    Participant.objects.filter(pk=participant.pk).update(updated_at=now)
    audit(
        actor,
        "key.primary_scheduled" if at > now else "key.promoted",
        participant=participant,
        key=_key_facts(key),
        primaryFrom=wire.rfc3339(key.primary_from),
    )
    return key


def _locked_key(key: ParticipantKey) -> ParticipantKey:
    return (
        ParticipantKey.objects.select_for_update(of=("self",))
        .select_related("participant__organisation")
        .get(pk=key.pk)
    )


@transaction.atomic
def retire_key(*, key: ParticipantKey, actor: Actor, now: dt.datetime | None = None) -> ParticipantKey:
    """Stop using a key for new signatures; it still verifies for the retirement grace period."""
    now = now or timezone.now()
    _locked(key.participant)
    key = _locked_key(key)
    if key.status != KeyStatus.ACTIVE:
        raise ValidationError(f"Only an active key can be retired; {key.kid} is {key.get_status_display()}.")
    others = key.participant.keys.filter(status=KeyStatus.ACTIVE).exclude(pk=key.pk)
    if not others.exists():
        raise ValidationError(
            f"{key.kid} is the participant's only active key: add its replacement before retiring it "
            "(or revoke it if it is compromised)."
        )
    if primary_key(key.participant.keys.all(), now) == key:
        raise ValidationError(
            f"{key.kid} is the participant's primary key (publicKey): make its successor primary before retiring it "
            "(or revoke it if it is compromised)."
        )
    grace_end = now + dt.timedelta(seconds=settings.OCEN_KEY_RETIREMENT_GRACE)
    key.status = KeyStatus.RETIRED
    key.retired_at = now
    key.valid_until = max(min(key.valid_until or grace_end, grace_end), key.valid_from + dt.timedelta(seconds=1))
    key.save(update_fields=["status", "retired_at", "valid_until"])
    Participant.objects.filter(pk=key.participant_id).update(updated_at=now)
    audit(
        actor, "key.retired", participant=key.participant, key=_key_facts(key), validUntil=wire.rfc3339(key.valid_until)
    )
    return key


@transaction.atomic
def revoke_key(*, key: ParticipantKey, actor: Actor, reason: str, now: dt.datetime | None = None) -> ParticipantKey:
    """Mark a key compromised or withdrawn: no signature by it verifies any more. Kept for the record."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the key is revoked (for the audit trail)."})
    _locked(key.participant)
    key = _locked_key(key)
    if key.status == KeyStatus.REVOKED:
        raise ValidationError(f"{key.kid} is already revoked.")
    key.status = KeyStatus.REVOKED
    key.revoked_at = now
    key.revocation_reason = reason[:500]
    key.save(update_fields=["status", "revoked_at", "revocation_reason"])
    Participant.objects.filter(pk=key.participant_id).update(updated_at=now)
    audit(actor, "key.revoked", participant=key.participant, key=_key_facts(key), reason=reason)
    return key


@dataclass(frozen=True)
class OffboardingPlan:
    """What offboarding a participant will do, for the confirmation page."""

    participant: Participant
    client_id: str
    live_tokens: int
    keys_to_revoke: list
    resource_mappings_note: str = "All product-network memberships (resource mappings) are removed."


def plan_offboarding(participant: Participant) -> OffboardingPlan:
    return OffboardingPlan(
        participant=participant,
        client_id=participant.client_id,
        live_tokens=AccessToken.objects.filter(application_id=participant.application_id).count()
        if participant.application_id
        else 0,
        keys_to_revoke=list(participant.keys.exclude(status=KeyStatus.REVOKED)),
    )


@transaction.atomic
def offboard_participant(
    *, participant: Participant, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> Participant:
    """Withdraw a participant for good (contract §3).

    Its OAuth client is deleted, so the token endpoint answers invalid_client; every access token
    it holds goes with it; its keys are REVOKED but kept so past signatures can still be checked;
    its resource mappings are removed; the record stays as a tombstone with status OFFBOARDED.
    """
    now = now or timezone.now()
    participant = _locked(participant)
    _refuse_if_offboarded(participant)
    application = participant.application
    if application is not None:
        # Token grants racing this one reference the client row; locking it makes them wait, then fail
        # (the client is gone) instead of slipping a token in between the revocation and the deletion.
        Application.objects.select_for_update().filter(pk=application.pk).exists()
    tokens_revoked = _revoke_tokens(participant)
    participant.status = OperationalStatus.OFFBOARDED
    participant.status_reason = reason
    participant.offboarded_at = now
    participant.application = None
    participant.save(update_fields=["status", "status_reason", "offboarded_at", "application", "updated_at"])
    if application is not None:
        application.delete()
    revoked_kids = list(participant.keys.exclude(status=KeyStatus.REVOKED).values_list("kid", flat=True))
    participant.keys.exclude(status=KeyStatus.REVOKED).update(
        status=KeyStatus.REVOKED, revoked_at=now, revocation_reason="participant offboarded"
    )
    mappings = end_resource_mappings(participant=participant, actor=actor, now=now)
    audit(
        actor,
        "participant.offboarded",
        participant=participant,
        reason=reason,
        clientId=participant.client_id,
        clientDeleted=application is not None,
        tokensRevoked=tokens_revoked,
        keysRevoked=revoked_kids,
        resourceMappingsRemoved=mappings,
    )
    return participant


# --- Product registry ----------------------------------------------------------------------------------

PRODUCT_FIELDS = (
    "name",
    "description",
    "is_private",
    "is_end_use_controlled",
    "is_collection_controlled",
    "is_aa_flow_required",
    "is_monitoring_consent_required",
    "is_derived_data_partner_required",
    "derived_data_description",
)


def _current_in_role_problem(participant: Participant | None, role: Role, missing: str, wrong: str) -> str | None:
    if participant is None:
        return missing
    if participant.role != role:
        return f"{wrong}; {participant} is a {participant.get_role_display()}."
    if participant.is_offboarded:
        return f"{participant} has been offboarded."
    return None


def product_owner_problem(participant: Participant | None) -> str | None:
    """Why `participant` cannot own a product, or None: owners are current lenders."""
    return _current_in_role_problem(
        participant, Role.LENDER, "Choose the lender that owns the product.", "A product's owner must be a lender"
    )


def network_creator_problem(participant: Participant | None) -> str | None:
    """Why `participant` cannot create a product network, or None: creators are current loan agents."""
    return _current_in_role_problem(
        participant,
        Role.LOAN_AGENT,
        "Choose the loan agent that builds the network.",
        "A product network is created by a loan agent",
    )


def membership_problem(network: ProductNetwork | None, participant: Participant | None) -> str | None:
    """Why `participant` cannot be added to `network`, or None."""
    if participant is None:
        return "Choose a participant."
    if not participant.can_authenticate:
        return f"Only approved, active participants can be added; {participant} is not."
    if network is not None and network.pk:
        if network.product.is_withdrawn:
            return f"The product {network.product} has been withdrawn."
        if network.memberships.current().filter(participant=participant).exists():
            return f"{participant} is already a member of {network}."
    return None


def _refuse(problem: str | None, field: str | None = None) -> None:
    if problem:
        raise ValidationError({field: problem} if field else problem)


def _product_facts(product: Product) -> dict:
    return {"productId": str(product.id), "name": product.name}


@transaction.atomic
def create_product(*, lender: Participant, actor: Actor, product_id: uuid.UUID | None = None, **fields) -> Product:
    """Register a lender's credit product (with `product_id`, the id it has elsewhere)."""
    lender = _locked(lender) if lender is not None else None
    _refuse(product_owner_problem(lender), "lender")
    product = Product(
        **({"id": product_id} if product_id else {}),
        lender=lender,
        **{name: fields[name] for name in PRODUCT_FIELDS if name in fields},
    )
    product.full_clean()
    product.save()
    audit(actor, "product.created", participant=lender, product=_product_facts(product))
    return product


@transaction.atomic
def update_product(*, product: Product, actor: Actor, **fields) -> Product:
    """Change a product's descriptive fields and flags."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError("A withdrawn product cannot be changed.")
    changed = _save_changes(product, {name: fields[name] for name in PRODUCT_FIELDS if name in fields})
    if not changed:
        return product
    audit(actor, "product.updated", participant=product.lender, product=_product_facts(product), changed=changed)
    return product


def _withdraw(product: Product, now: dt.datetime) -> None:
    product.status = ProductStatus.WITHDRAWN
    product.withdrawn_at = now
    product.save(update_fields=["status", "withdrawn_at", "updated_at"])


@transaction.atomic
def withdraw_product(*, product: Product, actor: Actor, reason: str = "", now: dt.datetime | None = None) -> Product:
    """Take a product off the network: its networks stop listing participants."""
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError(f"{product} is already withdrawn.")
    _withdraw(product, now or timezone.now())
    audit(actor, "product.withdrawn", participant=product.lender, product=_product_facts(product), reason=reason)
    return product


@transaction.atomic
def update_network(*, network: ProductNetwork, actor: Actor, name: str, description: str = "") -> ProductNetwork:
    """Rename or re-describe a network."""
    network = ProductNetwork.objects.select_for_update().get(pk=network.pk)
    changed = _save_changes(network, {"name": name.strip(), "description": description})
    if not changed:
        return network
    audit(actor, "network.updated", participant=network.created_by, networkId=str(network.id), changed=changed)
    return network


def _add_member(network: ProductNetwork, participant: Participant, role: str, actor: Actor) -> NetworkMembership:
    try:
        with transaction.atomic():
            return NetworkMembership.objects.create(
                network=network, participant=participant, role=role, added_by=actor.label
            )
    except IntegrityError:
        raise ValidationError({"participant": f"{participant} is already a member of {network}."}) from None


@transaction.atomic
def create_network(
    *,
    product: Product,
    loan_agent: Participant,
    name: str,
    actor: Actor,
    description: str = "",
    network_id: uuid.UUID | None = None,
    with_founders: bool = True,
) -> ProductNetwork:
    """A loan agent's network for a product; the loan agent and the product's lender join it at once
    (unless `with_founders` is off: an import, which adds the members its record lists)."""
    loan_agent = _locked(loan_agent) if loan_agent is not None else None
    _refuse(network_creator_problem(loan_agent), "created_by")
    product = Product.objects.select_for_update(of=("self",)).select_related("lender").get(pk=product.pk)
    if product.is_withdrawn:
        raise ValidationError({"product": f"The product {product} has been withdrawn."})
    network = ProductNetwork(
        **({"id": network_id} if network_id else {}),
        product=product,
        created_by=loan_agent,
        name=(name or "").strip(),
        description=description,
    )
    network.full_clean()
    network.save()
    founders = [p for p in (loan_agent, product.lender) if p.can_authenticate] if with_founders else []
    for founder in founders:
        _add_member(network, founder, founder.role, actor)
    audit(
        actor,
        "network.created",
        participant=loan_agent,
        networkId=str(network.id),
        name=network.name,
        product=_product_facts(product),
        members=[str(p.id) for p in founders],
    )
    return network


@transaction.atomic
def add_network_member(
    *, network: ProductNetwork, participant: Participant, actor: Actor, role: str | None = None
) -> NetworkMembership:
    """Add an approved, active participant to a network (once), in its own role unless told otherwise."""
    network = ProductNetwork.objects.select_for_update(of=("self",)).select_related("product").get(pk=network.pk)
    participant = _locked(participant) if participant is not None else None
    _refuse(membership_problem(network, participant), "participant")
    membership = _add_member(network, participant, role or participant.role, actor)
    audit(
        actor,
        "network.member_added",
        participant=participant,
        networkId=str(network.id),
        role=membership.role,
    )
    return membership


@transaction.atomic
def remove_network_member(
    *, membership: NetworkMembership, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> NetworkMembership:
    """End a membership; the row stays as history."""
    membership = NetworkMembership.objects.select_for_update().get(pk=membership.pk)
    if membership.ended_at is not None:
        raise ValidationError("This membership has already ended.")
    membership.ended_at = now or timezone.now()
    membership.ended_reason = reason[:200]
    membership.save(update_fields=["ended_at", "ended_reason"])
    audit(
        actor,
        "network.member_removed",
        participant=membership.participant,
        networkId=str(membership.network_id),
        reason=reason,
    )
    return membership


def end_resource_mappings(*, participant: Participant, actor: Actor, now: dt.datetime) -> dict:
    """Offboarding's resource mappings: end every current network membership of the participant and
    withdraw the products it owns. Runs inside the offboarding transaction; returns what it did."""
    memberships = list(participant.memberships.current().select_for_update().values_list("pk", "network_id", "role"))
    participant.memberships.filter(pk__in=[pk for pk, _, _ in memberships]).update(
        ended_at=now, ended_reason="participant offboarded"
    )
    products = list(participant.products.select_for_update().filter(status=ProductStatus.ACTIVE))
    for product in products:
        _withdraw(product, now)
    return {
        "networkMemberships": [{"networkId": str(network_id), "role": role} for _, network_id, role in memberships],
        "productsWithdrawn": [str(product.id) for product in products],
    }
