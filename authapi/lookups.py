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

from django.conf import settings
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings

from participants.models import OperationalStatus, Participant, ReviewStatus


@dataclass(frozen=True)
class Caller:
    """The participant behind a valid bearer token (DRF's request.auth on registry reads), with the
    change stamp of the participant the request is about, read in the same statement."""

    participant_id: str
    client_id: str
    subject_id: uuid.UUID | None = None
    subject_stamp: str | None = None


@cache
def _caller_sql(vendor: str) -> str:
    tokens, participants = get_access_token_model()._meta.db_table, Participant._meta.db_table
    # The state values are the models' own constants, written into the statement (no client value
    # is); on PostgreSQL the clock is the server's, so the only parameters are the subject and checksum.
    clock = "statement_timestamp()" if vendor == "postgresql" else "%s"
    return (
        f"SELECT p.id, p.client_id, CAST(s.updated_at AS TEXT) FROM {tokens} t "  # noqa: S608
        f"JOIN {participants} p ON p.application_id = t.application_id LEFT JOIN {participants} s ON s.id = %s "
        f"WHERE t.token_checksum = %s AND t.expires > {clock} "
        f"AND p.status = '{OperationalStatus.ACTIVE}' AND p.review_status = '{ReviewStatus.APPROVED}'"
    )


def caller_for_token(token: str, subject_id: uuid.UUID | None = None) -> Caller | None:
    """The caller if the token was issued here, is neither revoked nor expired, and its participant
    is still approved and active; else None. With `subject_id`, the same round trip also reads that
    participant's change stamp (None when there is no such participant)."""
    params = [
        Participant._meta.pk.get_db_prep_value(subject_id, connection) if subject_id else None,
        hashlib.sha256(token.encode("utf-8")).hexdigest(),
    ]
    if connection.vendor != "postgresql":
        params.append(connection.ops.adapt_datetimefield_value(timezone.now()))
    with connection.cursor() as cursor:
        cursor.execute(_caller_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return Caller(
        participant_id=str(row[0]) if isinstance(row[0], uuid.UUID) else str(uuid.UUID(row[0])),  # SQLite: hex
        client_id=row[1],
        subject_id=subject_id,
        subject_stamp=row[2],
    )


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
    client = _from_row(get_application_model(), client_fields, row[:split])
    client._state.fields_cache["participant"] = _from_row(Participant, participant_fields, row[split:])
    return client


def _from_row(model, names: tuple[str, ...], values) -> object:
    """A model instance from raw column values, each converted as the ORM would (SQLite returns UUIDs
    as 32 hex digits, for instance)."""
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in names]
    converted = [
        value if value is None else (field.target_field if field.is_relation else field).to_python(value)
        for field, value in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, names, converted)


@cache
def _stamp_sql() -> str:
    return f"SELECT CAST(updated_at AS TEXT) FROM {Participant._meta.db_table} WHERE id = %s"  # noqa: S608


def participant_stamp(participant_id: uuid.UUID) -> str | None:
    """The participant's last-change time, as an opaque string; None when there is no such participant.

    Every service that changes what the registry publishes about a participant (its record, keys or
    organisation) moves this stamp, so a rendering cached under it is current.
    """
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql(), [Participant._meta.pk.get_db_prep_value(participant_id, connection)])
        row = cursor.fetchone()
    return str(row[0]) if row else None


# Clients this process authenticated recently, by client ID. A remembered client saves the read on
# the next grant; it is never trusted blindly, because the token insert re-checks, in the same
# statement, that the client still has that secret and its participant is still approved and active.
_recent_clients: dict[str, object] = {}
RECENT_CLIENTS_MAX = 10_000


def remembered_client(client_id: str):
    return _recent_clients.get(client_id)


def remember_client(client) -> None:
    if len(_recent_clients) >= RECENT_CLIENTS_MAX:
        _recent_clients.clear()  # bounded memory; the busy clients come back on their next grant
    _recent_clients[client.client_id] = client


def forget_client(client_id: str) -> None:
    _recent_clients.pop(client_id, None)


def forget_all_clients() -> None:
    _recent_clients.clear()


@cache
def _access_token_insert(async_commit: bool) -> tuple[list, str]:
    model = get_access_token_model()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    application, participants = get_application_model()._meta.db_table, Participant._meta.db_table
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {placeholders} "  # noqa: S608
        f"FROM {application} a JOIN {participants} p ON p.application_id = a.id "
        "WHERE a.id = %s AND a.client_secret = %s "
        f"AND p.status = '{OperationalStatus.ACTIVE}' AND p.review_status = '{ReviewStatus.APPROVED}'"
    )
    if async_commit and connection.vendor == "postgresql":
        # The statement is its own transaction (autocommit); set_config(..., true) scopes the setting
        # to it, so this one commit does not wait for its WAL flush, in the same round trip.
        sql += " AND set_config('synchronous_commit', 'off', true) = 'off'"
    return fields, sql


def insert_access_token(*, client, raw_token: str, scope: str, expires, resource) -> bool:
    """Write a client-credentials token into django-oauth-toolkit's AccessToken table, only if its
    client still has the secret it authenticated with and its participant is still approved and
    active; False when not written.

    The row is what AccessToken.save() would write (hashed storage under RFC 9700: a blank `token`
    and the SHA-256 `token_checksum`; both timestamps now; no user, refresh or ID token), built
    without a model instance and sent with a statement compiled once per process. With
    OCEN_TOKEN_ASYNC_COMMIT (the default) PostgreSQL acknowledges the row before it is flushed to
    disk: a crash may lose the newest tokens, which then simply fail as revoked ones do."""
    fields, sql = _access_token_insert(settings.OCEN_TOKEN_ASYNC_COMMIT)
    now = timezone.now()
    row = {
        "token": "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else raw_token,
        "token_checksum": hashlib.sha256(raw_token.encode("utf-8")).hexdigest(),
        "expires": expires,
        "scope": scope,
        "application_id": client.id,
        "created": now,
        "updated": now,
        "resource": resource,
    }
    values = [field.get_db_prep_save(row.get(field.attname), connection) for field in fields]
    values += [client.id, client.client_secret]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount == 1
