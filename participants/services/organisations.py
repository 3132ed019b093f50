"""Organisations: names (one rule, Organisation.objects.named), details, logos."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ..models import (
    AuditAction,
    Organisation,
)
from ..validators import logo_content_type
from .common import Actor, _save_changes, audit


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


ORGANISATION_FIELDS = ("name", "description", "website", "email", "phone")


@transaction.atomic
def create_organisation(*, actor: Actor, name: str, org_id: uuid.UUID | None = None, **fields) -> Organisation:
    """Register an organisation ahead of its participants (with `org_id`, the id it has elsewhere)."""
    name = Organisation.tidy_name(name)
    _refuse_taken_name(name, "name")
    organisation = Organisation(name=name, **({"id": org_id} if org_id else {}), **fields)
    organisation.full_clean()
    organisation.save()
    audit(actor, AuditAction.ORGANISATION_CREATED, organisation=organisation, name=organisation.name)
    return organisation


@transaction.atomic
def update_organisation(*, organisation: Organisation, actor: Actor, **fields) -> Organisation:
    """Change an organisation's descriptive fields; its participants' records change with it (the announced change
    moves their updatedOn)."""
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
    audit(actor, AuditAction.ORGANISATION_UPDATED, organisation=organisation, changed=changed)
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
    audit(
        actor,
        AuditAction.ORGANISATION_LOGO_SET if logo else AuditAction.ORGANISATION_LOGO_REMOVED,
        organisation=organisation,
        contentType=content_type,
        bytes=len(logo or b""),
    )
    return organisation
