"""
The registry's hottest reads as single portable SQL statements (PostgreSQL and the SQLite quickstart).

Every registry API call authenticates its caller, and most then ask "has this participant changed?".
Through the ORM each costs about three times its database round trip in query compilation alone,
so these two are written once, here, as plain SQL over the models' own table names; the tests
cover them through the endpoints that use them.
"""

import hashlib
import uuid
from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from participants.models import OperationalStatus, Participant, ReviewStatus


@dataclass(frozen=True)
class Caller:
    """The participant behind a valid bearer token (DRF's request.auth on registry reads)."""

    participant_id: str
    client_id: str


@cache
def _caller_sql() -> str:
    tokens, participants = get_access_token_model()._meta.db_table, Participant._meta.db_table
    return (
        f"SELECT p.id, p.client_id FROM {tokens} t JOIN {participants} p ON p.application_id = t.application_id "  # noqa: S608
        "WHERE t.token_checksum = %s AND t.expires > %s AND p.status = %s AND p.review_status = %s"
    )


def caller_for_token(token: str) -> Caller | None:
    """The caller if the token was issued here, is neither revoked nor expired, and its participant
    is still approved and active; else None."""
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_caller_sql(), [checksum, now, OperationalStatus.ACTIVE, ReviewStatus.APPROVED])
        row = cursor.fetchone()
    return Caller(participant_id=str(uuid.UUID(str(row[0]))), client_id=row[1]) if row else None


def _in_model_order(model, names: set[str]) -> tuple[str, ...]:
    """Model.from_db() takes the loaded values in the model's own field order."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


@cache
def _client_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    client = _in_model_order(
        get_application_model(),
        {"id", "client_id", "client_secret", "client_type", "authorization_grant_type", "hash_client_secret",
         "algorithm", "user_id"},
    )  # fmt: skip
    participant = _in_model_order(Participant, {"id", "role", "organisation_id", "application_id"})
    return client, participant


@cache
def _client_sql() -> str:
    application, participants = get_application_model()._meta.db_table, Participant._meta.db_table
    client_fields, participant_fields = _client_fields()
    columns = ", ".join([*(f"a.{name}" for name in client_fields), *(f"p.{name}" for name in participant_fields)])
    return (
        f"SELECT {columns} FROM {application} a JOIN {participants} p ON p.application_id = a.id "  # noqa: S608
        "WHERE a.client_id = %s AND p.status = %s AND p.review_status = %s"
    )


def active_client(client_id: str):
    """django-oauth-toolkit's Application for `client_id`, with its participant attached, only while
    that participant is approved and active; else None. Loads just the fields client authentication
    and token issuance read (any other would be fetched lazily, which the query-count tests catch)."""
    with connection.cursor() as cursor:
        cursor.execute(_client_sql(), [client_id, OperationalStatus.ACTIVE, ReviewStatus.APPROVED])
        row = cursor.fetchone()
    if row is None:
        return None
    client_fields, participant_fields = _client_fields()
    split = len(client_fields)
    client = get_application_model().from_db(connection.alias, client_fields, row[:split])
    participant = Participant.from_db(connection.alias, participant_fields, row[split:])
    client._state.fields_cache["participant"] = participant
    return client


@cache
def _stamp_sql() -> str:
    return f"SELECT updated_at FROM {Participant._meta.db_table} WHERE id = %s"  # noqa: S608


def participant_stamp(participant_id: uuid.UUID) -> str | None:
    """The participant's last-change time, as an opaque string; None when there is no such participant.

    Every service that changes what the registry publishes about a participant (its record, keys or
    organisation) moves this stamp, so a rendering cached under it is current.
    """
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql(), [Participant._meta.pk.get_db_prep_value(participant_id, connection)])
        row = cursor.fetchone()
    return str(row[0]) if row else None


@cache
def _access_token_insert() -> tuple[list, str]:
    model = get_access_token_model()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return fields, f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def insert_access_token(access_token) -> None:
    """Write a new django-oauth-toolkit AccessToken row: what Model.save() does for an insert (each
    field's pre_save, such as the hashed-storage checksum and the timestamps, and its database
    preparation), with the statement compiled once per process instead of on every grant."""
    fields, sql = _access_token_insert()
    values = [field.get_db_prep_save(field.pre_save(access_token, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
