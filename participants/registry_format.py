"""
The registry document (`ocen-registry/1`, docs/registry-format.md) as DRF serializers: what the file and each of
its records must hold, read under the file's names and handed on under the names the services take (`source`).

DocumentSerializer checks the whole file first: its format, its sections (lists), and that nothing in it is a
string no database can store. The import then reads each record's id with RecordSerializer, and the rest of the
record with its own serializer only when it creates that record: a record that exists is left as it is, unread,
so that importing an export is a no-op. The registry's own rules (https base URLs, key policy, one participant per
organisation and role, …) are the services' to check, and are not repeated here.

Fields keep the import's reading of a file: a text may be absent or null (empty), a flag is any value (its truth),
ids are UUID strings (never DRF's integers). `messages` turns DRF's errors into one line per problem, with its
place in the file: `participants[1].keys[0].validUntil: must be an RFC 3339 time with its zone.`
"""

from __future__ import annotations

import base64
import json

from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from .models import KeyStatus, OperationalStatus, ProductStatus, ReviewStatus
from .validators import json_problem

FORMAT = "ocen-registry/1"
PRODUCT_FLAGS = {
    "isPrivate": "is_private",
    "isEndUseControlled": "is_end_use_controlled",
    "isCollectionControlled": "is_collection_controlled",
    "isAAFlowRequired": "is_aa_flow_required",
    "isMonitoringConsentRequired": "is_monitoring_consent_required",
    "isDerivedDataPartnerRequired": "is_derived_data_partner_required",
}


def messages(errors, where: str = "") -> list[str]:
    """DRF's errors as one line each, named by their place in the file (`where` is the record's)."""
    if isinstance(errors, dict):
        return [line for name, inner in errors.items() for line in messages(inner, place(where, name))]
    return [f"{where or 'document'}: {' '.join(errors)}"]


def place(where: str, name) -> str:
    """The place in the file of a field (a name), an item of a list (an index) or a whole record."""
    if name == api_settings.NON_FIELD_ERRORS_KEY:
        return where
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


# --- fields ---------------------------------------------------------------------------------------------------


class Lenient:
    """A field the import reads as it always has: absent, null or any other false value ("", 0, false, [], {}) is
    `blank`; anything else goes to the field's own reading."""

    blank = None

    def run_validation(self, data=empty):
        if data is empty or not data:
            return self.blank
        return super().run_validation(data)


class Text(Lenient, serializers.Field):
    blank = ""

    def to_internal_value(self, data) -> str:
        return str(data)


class Flag(Lenient, serializers.Field):
    blank = False

    def to_internal_value(self, data) -> bool:
        return bool(data)


class Is(Lenient, serializers.Field):
    """Whether the file gives this one value (any other value means no)."""

    blank = False

    def __init__(self, value: str, **kwargs):
        super().__init__(**kwargs)
        self.value = value

    def to_internal_value(self, data) -> bool:
        return data == self.value


class OptionalString(Lenient, serializers.Field):
    default_error_messages = {"invalid": "must be a string."}

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data


class Instant(Lenient, serializers.Field):
    """A time with its zone (RFC 3339); a time without one is refused, never guessed."""

    default_error_messages = {"invalid": "must be an RFC 3339 time with its zone."}

    def to_internal_value(self, data):
        try:
            moment = parse_datetime(str(data))
        except ValueError:  # well-formed, but no such time
            moment = None
        if moment is None or moment.tzinfo is None:
            self.fail("invalid")
        return moment


class Base64(Lenient, serializers.Field):
    default_error_messages = {"invalid": "must be base64."}

    def to_internal_value(self, data) -> bytes:
        try:
            return base64.b64decode(str(data), validate=True)
        except ValueError:
            self.fail("invalid")


class Choice(serializers.ChoiceField):
    """One of an enum's values, `default` when absent."""

    default_error_messages = {"invalid_choice": "unknown value {input!r}.", "null": "unknown value None."}

    def __init__(self, choices, default, **kwargs):
        super().__init__(choices, default=default, **kwargs)


class Uuid(serializers.UUIDField):
    default_error_messages = {
        "invalid": "{value!r} is not a UUID.",
        "required": "a UUID is required.",
        "null": "a UUID is required, not null.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):  # DRF would read a number as a UUID; the file's ids are text
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class Reference(Uuid):
    """The record the file names by its id: one in the registry or created earlier in this import, found in the
    context's map of `records` (the importer's, which grows as it creates them)."""

    def __init__(self, records: str, missing: str, **kwargs):
        super().__init__(error_messages={"missing": missing}, **kwargs)
        self.records = records

    def to_internal_value(self, data):
        record = self.context[self.records].get(super().to_internal_value(data))
        if record is None:
            self.fail("missing")
        return record


class Section(serializers.ListField):
    """A section of the document: a list of records (each checked by its own serializer); absent is empty."""

    default_error_messages = {"not_a_list": "must be a list.", "null": "must be a list."}

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


class OptionalSection(Lenient, Section):
    """A list within a record that may be left out: absent, null or otherwise false is none."""

    blank = ()


def same_message(message: str, *keys: str) -> dict:
    return dict.fromkeys(keys, message)


# --- the document and its records ------------------------------------------------------------------------------


class Row(serializers.Serializer):
    default_error_messages = {"invalid": "must be an object."}

    def validate_empty_values(self, data):
        # null is one more value that is not an object (DRF would say "No data provided").
        return (False, data) if data is None else super().validate_empty_values(data)


class DocumentSerializer(Row):
    default_error_messages = {"invalid": f'must be a JSON object with "format": {FORMAT!r}.'}

    format = serializers.ChoiceField(
        [FORMAT], error_messages=same_message(f"expected {FORMAT!r}.", "invalid_choice", "required", "null")
    )
    organisations = Section()
    participants = Section()
    products = Section()
    productNetworks = Section()

    def validate(self, attrs):
        if problem := json_problem(self.initial_data):
            raise serializers.ValidationError({"document": f"{problem}."})
        return attrs


class RecordSerializer(Row):
    id = Uuid()


class OrganisationSerializer(Row):
    name = Text()
    description = Text()
    website = Text()
    email = Text()
    phone = Text()
    logo = Base64()


class KeySerializer(Row):
    kid = serializers.JSONField(required=False, allow_null=True)  # the key parser (services) judges it
    jwk = serializers.DictField(
        error_messages=same_message("must be a public JWK object.", "not_a_dict", "required", "null")
    )
    status = Choice(KeyStatus.choices, default=KeyStatus.ACTIVE)
    validUntil = Instant()
    primaryFrom = Instant()
    revocationReason = Text()

    def validate(self, attrs):
        """The key as the services take it (`public_key`): its JWK, with the record's own kid when it gives one."""
        kid, jwk = attrs.pop("kid", None), attrs.pop("jwk")
        return {**attrs, "public_key": json.dumps({**jwk, "kid": kid} if kid else jwk)}


class ParticipantSerializer(Row):
    orgId = Reference("organisations", "no such organisation in the registry or the file.", source="organisation")
    role = Text()
    baseUrl = Text(source="base_url")
    participantRoleStatus = Choice(ReviewStatus.choices, default=ReviewStatus.APPROVED, source="review")
    status = Choice(OperationalStatus.choices, default=OperationalStatus.ACTIVE)
    clientId = OptionalString(source="client_id")
    clientAuthentication = Is("private_key_jwt", source="key_only")
    keys = serializers.ListField(
        child=KeySerializer(),
        allow_empty=False,
        error_messages=same_message("a participant needs at least one key.", "not_a_list", "empty", "required", "null"),
    )


class ProductSerializer(Row):
    lenderId = Reference("participants", "must be a lender in the registry or the file.", source="lender")
    name = Text()
    description = Text()
    derivedDataDescription = Text(source="derived_data_description")
    status = Is(ProductStatus.WITHDRAWN, source="withdrawn")

    def get_fields(self):
        return {**super().get_fields(), **{flag: Flag(source=name) for flag, name in PRODUCT_FLAGS.items()}}


class NetworkSerializer(Row):
    productId = Reference("products", "no such product in the registry or the file.", source="product")
    createdBy = Reference("participants", "must be a loan agent in the registry or the file.", source="loan_agent")
    name = Text()
    description = Text()


class MemberSerializer(Row):
    participantId = Reference("participants", "no such participant in the registry or the file.", source="participant")
    role = Text()  # a role name, read only for a membership the import adds (see Importer.member)


class MembersSerializer(Row):
    """A network's members: read for a network that exists too, which gains the members it lacks."""

    members = OptionalSection(child=MemberSerializer())
