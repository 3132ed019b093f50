"""A participant's lifecycle: onboarding, review, suspension, credentials, offboarding."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    PENDING_REVIEW,
    AuditAction,
    KeyStatus,
    NetworkMembership,
    OperationalStatus,
    Organisation,
    Participant,
    ProductStatus,
    ReviewStatus,
    Role,
)
from .common import (
    CLIENT_ID_RE,
    AccessToken,
    Actor,
    Application,
    Credentials,
    _base_url,
    _key_facts,
    _locked,
    _new_client_secret,
    _parse_key,
    _parse_role,
    _revoke_tokens,
    audit,
    create_client,
    refuse,
)
from .keys import _create_key
from .organisations import _resolve_organisation
from .products import end_resource_mappings


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
    key_only: bool = False,
    now: dt.datetime | None = None,
) -> Credentials:
    """Register a participant role with its first key and issue its OAuth client credentials.

    Without the four-eyes setting the participant is approved at once; with it, it waits
    UNDER_REVIEW for a different administrator. `pending` (APPLIED or UNDER_REVIEW) records an
    application that nobody has approved yet. An import keeps its record's `participant_id` and
    `client_id`. The secret is returned here and nowhere else; a `key_only` participant gets none and
    authenticates with private_key_jwt, signed by its registered keys.
    """
    now = now or timezone.now()
    role_value, url, parsed = _application_fields(role, base_url, public_key, now)
    if pending is not None and pending not in PENDING_REVIEW:
        raise ValueError(f"pending must be one of {PENDING_REVIEW}, not {pending!r}")
    org, org_created = _resolve_organisation(org_name=org_name, org_id=org_id, organisation=organisation)
    _refuse_taken_place(org, role_value, client_id)

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
                secret_withdrawn_at=now if key_only else None,
                **_initial_review(pending, actor.db_user, now),
            )
    except IntegrityError:
        raise ValidationError({"role": f"{org.name} already has a {role_value.label} participant."}) from None
    key = _create_key(participant, parsed, now, key_valid_until, primary_from=now)  # the first key is primary

    if org_created:
        audit(actor, AuditAction.ORGANISATION_CREATED, organisation=org, name=org.name)
    audit(
        actor,
        AuditAction.PARTICIPANT_ONBOARDED,
        participant=participant,
        role=participant.role,
        baseUrl=participant.base_url,
        clientId=participant.client_id,
        reviewStatus=participant.review_status,
        clientAuthentication=participant.client_auth_methods,
        key=_key_facts(key),
    )
    return Credentials(participant=participant, client_secret=None if key_only else secret)


def _refuse_taken_place(org: Organisation, role: Role, client_id: str | None) -> None:
    """An organisation has one current participant per role; an imported client ID must be free and valid."""
    if Participant.objects.holding_place().filter(organisation=org, role=role).exists():
        raise ValidationError({"role": f"{org.name} already has a {role.label} participant."})
    if client_id is not None:
        _refuse_client_id(client_id)


def _application_fields(role: str, base_url: str, public_key, now: dt.datetime):
    """The role, base URL and key of an application, each checked; every field's errors at once."""
    errors: dict = {}

    def attempt(parse, *args):
        try:
            return parse(*args)
        except ValidationError as exc:
            errors.update(exc.error_dict)  # with their codes
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


@transaction.atomic
def start_review(*, participant: Participant, actor: Actor) -> Participant:
    """An application received (APPLIED) goes under review; only then can it be approved."""
    participant = _locked(participant)
    refuse(participant.review_start_refused())
    participant.review_status = ReviewStatus.UNDER_REVIEW
    participant.save(update_fields=["review_status"])
    audit(actor, AuditAction.PARTICIPANT_REVIEW_STARTED, participant=participant)
    return participant


@transaction.atomic
def approve_participant(*, participant: Participant, actor: Actor, now: dt.datetime | None = None) -> Participant:
    """Approve a participant under review; with four-eyes on, not by the administrator who recorded it."""
    participant = _locked(participant)
    refuse(participant.approval_refused(actor.db_user))
    previous = participant.review_status
    participant.review_status = ReviewStatus.APPROVED
    participant.approved_by = actor.db_user
    participant.approved_at = now or timezone.now()
    participant.save(update_fields=["review_status", "approved_by", "approved_at"])
    audit(actor, AuditAction.PARTICIPANT_APPROVED, participant=participant, previousReviewStatus=previous)
    return participant


@transaction.atomic
def reject_participant(*, participant: Participant, actor: Actor, reason: str = "") -> Participant:
    """Reject an application that has not been approved; it can never obtain tokens."""
    participant = _locked(participant)
    refuse(participant.rejection_refused())
    participant.review_status = ReviewStatus.REJECTED
    participant.status_reason = reason
    participant.save(update_fields=["review_status", "status_reason"])
    audit(actor, AuditAction.PARTICIPANT_REJECTED, participant=participant, reason=reason)
    return participant


@transaction.atomic
def suspend_participant(*, participant: Participant, actor: Actor, reason: str = "") -> Participant:
    """Stop an active participant from authenticating and revoke its tokens; reinstating undoes it."""
    participant = _locked(participant)
    refuse(participant.suspension_refused())
    participant.status = OperationalStatus.SUSPENDED
    participant.status_reason = reason
    participant.save(update_fields=["status", "status_reason"])
    revoked = _revoke_tokens(participant)
    audit(actor, AuditAction.PARTICIPANT_SUSPENDED, participant=participant, reason=reason, tokensRevoked=revoked)
    return participant


@transaction.atomic
def reinstate_participant(*, participant: Participant, actor: Actor) -> Participant:
    """Return a suspended participant to service with its existing credentials and keys."""
    participant = _locked(participant)
    refuse(participant.reinstatement_refused())
    participant.status = OperationalStatus.ACTIVE
    participant.status_reason = ""
    participant.tokens_valid_from = timezone.now()
    participant.save(update_fields=["status", "status_reason", "tokens_valid_from"])
    audit(actor, AuditAction.PARTICIPANT_REINSTATED, participant=participant)
    return participant


@transaction.atomic
def rotate_client_secret(*, participant: Participant, actor: Actor, reason: str = "") -> Credentials:
    """Issue a new client secret; the old one stops working at once. Issued tokens run to expiry."""
    participant = _locked(participant)
    refuse(participant.rotation_refused())
    secret = _new_client_secret()
    application = participant.application
    application.client_secret = secret
    application.save(update_fields=["client_secret", "updated"])
    audit(actor, AuditAction.SECRET_ROTATED, participant=participant, clientId=participant.client_id, reason=reason)
    return Credentials(participant=participant, client_secret=secret)


@transaction.atomic
def withdraw_client_secret(*, participant: Participant, actor: Actor, reason: str) -> Participant:
    """Make a participant key-only: its client secret stops working at once (the stored hash is replaced
    by one of a secret nobody is shown); from now on it authenticates with private_key_jwt. Issued tokens
    run to expiry, as after a rotation. Allowed while suspended (a leaked secret is withdrawn before
    reinstating), so its keys count here if they are usable but for being withheld."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the audit trail (why the secret is withdrawn).")
    participant = _locked(participant)
    now = timezone.now()
    refuse(participant.secret_withdrawal_refused(now))
    application = participant.application
    application.client_secret = _new_client_secret()  # hashed on save; never shown, so it matches nothing sent
    application.save(update_fields=["client_secret", "updated"])
    participant.secret_withdrawn_at = now
    participant.save(update_fields=["secret_withdrawn_at"])
    audit(actor, AuditAction.SECRET_WITHDRAWN, participant=participant, clientId=participant.client_id, reason=reason)
    return participant


@transaction.atomic
def update_participant(*, participant: Participant, actor: Actor, base_url: str) -> Participant:
    """Change a participant's API base URL."""
    participant = _locked(participant)
    refuse(participant.change_refused())
    url = _base_url(base_url)
    if url == participant.base_url:
        return participant
    previous = participant.base_url
    participant.base_url = url
    participant.save(update_fields=["base_url"])
    audit(actor, AuditAction.PARTICIPANT_UPDATED, participant=participant, baseUrl=url, previousBaseUrl=previous)
    return participant


@dataclass(frozen=True)
class OffboardingPlan:
    """What offboarding a participant will do, for the confirmation page."""

    participant: Participant
    client_id: str
    live_tokens: int
    keys_to_revoke: list
    memberships_to_end: list  # NetworkMembership rows, with their networks
    products_to_withdraw: list  # Product rows, each with .networks_listed: [(network, [other participants])]


def _listed_besides(network, participant: Participant) -> list[Participant]:
    """The members `network` lists now (what its listing shows), `participant` aside."""
    listed = NetworkMembership.objects.listed_in(network).exclude(participant=participant)
    return [membership.participant for membership in listed.select_related("participant__organisation")]


def plan_offboarding(participant: Participant) -> OffboardingPlan:
    """What offboarding `participant` will do: what end_resource_mappings ends and withdraws, and who stops
    seeing it listed (the other members of the networks of each product it withdraws)."""
    products = list(participant.products.filter(status=ProductStatus.ACTIVE).order_by("name"))
    for product in products:
        product.networks_listed = [
            (network, _listed_besides(network, participant)) for network in product.networks.all()
        ]
    return OffboardingPlan(
        participant=participant,
        client_id=participant.client_id,
        live_tokens=AccessToken.objects.filter(application_id=participant.application_id).count()
        if participant.application_id
        else 0,
        keys_to_revoke=list(participant.keys.exclude(status=KeyStatus.REVOKED)),
        memberships_to_end=list(participant.memberships.current().select_related("network__product")),
        products_to_withdraw=products,
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
    refuse(participant.offboarding_refused())
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
    participant.save(update_fields=["status", "status_reason", "offboarded_at", "application"])
    if application is not None:
        application.delete()
    revoked_kids = list(participant.keys.exclude(status=KeyStatus.REVOKED).values_list("kid", flat=True))
    participant.keys.exclude(status=KeyStatus.REVOKED).update(
        status=KeyStatus.REVOKED, revoked_at=now, revocation_reason="participant offboarded"
    )
    mappings = end_resource_mappings(participant=participant, actor=actor, now=now, reason=reason)
    audit(
        actor,
        AuditAction.PARTICIPANT_OFFBOARDED,
        participant=participant,
        reason=reason,
        clientId=participant.client_id,
        clientDeleted=application is not None,
        tokensRevoked=tokens_revoked,
        keysRevoked=revoked_kids,
        resourceMappingsRemoved=mappings,
    )
    return participant
