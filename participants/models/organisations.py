"""Organisations: the legal entities (banks, NBFCs, fintechs) that hold participant roles."""

import uuid

from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact


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
