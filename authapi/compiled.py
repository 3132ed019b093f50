"""
The registry's hot statements, each compiled once from the QuerySet that states its rule.

A token grant, a bearer check and a change-stamp read run on every participant call; through the ORM
each costs more in query compilation than its round trip to the database. So each is written here
once, as a QuerySet over the models' own rules (`participants.models.may_authenticate`,
`SigningKey.objects.verifying_at`, …), compiled to SQL the first time it runs and executed with new
values after that. The rule is never written twice: the SQL *is* the QuerySet's. Every statement is
held against its ORM twin in tests/authapi/test_compiled.py, for each state the rule distinguishes.

What is compiled is code, not data: nothing here caches a row, a credential or a status.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Exists, F, Q, Subquery, TextField
from django.db.models.functions import Cast, Now
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.settings import oauth2_settings

from participants.models import Participant, ParticipantKey, may_authenticate

from .models import SigningKey


def _sentinel(field: models.Field, name: str):
    """A value for slot `name` that no real parameter equals, of the type `field` accepts."""
    digest = hashlib.sha256(f"ocen-slot:{name}".encode()).digest()
    if isinstance(field, models.UUIDField):
        return uuid.UUID(bytes=digest[:16])
    if isinstance(field, models.IntegerField):
        return 10**15 + int.from_bytes(digest[:5], "big")
    return f"\x1fslot:{name}\x1f"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: tuple[tuple[int, str], ...]  # (parameter index, slot name)
    converters: tuple[tuple[int, tuple, object], ...]  # (column, the ORM's converters, their expression)


class Statement:
    """A QuerySet's SQL, compiled once per database vendor, run with new values for its named slots.

    `build(**values)` returns the QuerySet; `slots` maps each slot to the model field that turns a
    run-time value into a query parameter (`get_db_prep_value`), as the ORM itself would. Rows come
    back converted by the ORM's own converters for the selected columns (SQLite's text UUIDs, …).
    """

    def __init__(self, build: Callable[..., models.QuerySet], **slots: models.Field):
        self.build, self.slots = build, slots
        self._compiled: dict[str, _Compiled] = {}

    def queryset(self, **values) -> models.QuerySet:
        """The ORM path this statement compiles (what the tests compare it with)."""
        return self.build(**values)

    def compiled(self, db=None) -> _Compiled:
        db = db or connections[DEFAULT_DB_ALIAS]
        compiled = self._compiled.get(db.vendor)
        if compiled is None:
            compiled = self._compiled[db.vendor] = self._compile(db)
        return compiled

    def _compile(self, db) -> _Compiled:
        sentinels = {name: _sentinel(field, name) for name, field in self.slots.items()}
        compiler = self.build(**sentinels).query.get_compiler(connection=db)
        sql, params = compiler.as_sql()
        expected = {name: field.get_db_prep_value(sentinels[name], db) for name, field in self.slots.items()}
        slots = _positions_of(params, expected)
        missing = set(self.slots) - {name for _, name in slots}
        if missing:
            raise RuntimeError(f"Slots {sorted(missing)} do not appear in the compiled query: {sql}")
        return _Compiled(sql, tuple(params), slots, _converters_of(compiler))

    def sql(self) -> str:
        return self.compiled().sql

    def params(self, db=None, **values) -> list:
        """The query parameters with these slot values, converted as the ORM would convert them."""
        db = db or connections[DEFAULT_DB_ALIAS]
        compiled = self.compiled(db)
        params = list(compiled.params)
        for index, name in compiled.slots:
            value = values[name]
            params[index] = None if value is None else self.slots[name].get_db_prep_value(value, db)
        return params

    def fetchone(self, **values) -> tuple | None:
        rows = self._fetch(values, one=True)
        return rows[0] if rows else None

    def fetchall(self, **values) -> list[tuple]:
        return self._fetch(values, one=False)

    def _fetch(self, values: dict, *, one: bool) -> list[tuple]:
        db = connections[DEFAULT_DB_ALIAS]
        compiled = self.compiled(db)
        with db.cursor() as cursor:
            cursor.execute(compiled.sql, self.params(db, **values))
            rows = [row for row in [cursor.fetchone()] if row is not None] if one else cursor.fetchall()
        if not compiled.converters:
            return rows
        return [_converted(row, compiled.converters, db) for row in rows]


def _converted(row: tuple, converters, db) -> tuple:
    row = list(row)
    for index, functions, expression in converters:
        for convert in functions:
            row[index] = convert(row[index], expression, db)
    return tuple(row)


def _positions_of(params, expected: dict) -> tuple[tuple[int, str], ...]:
    """Where each slot's sentinel landed among the compiled query's parameters: (index, slot name)."""
    return tuple(
        (index, name)
        for index, param in enumerate(params)
        for name, value in expected.items()
        if type(param) is type(value) and param == value
    )


def _converters_of(compiler) -> tuple[tuple[int, tuple, object], ...]:
    """The ORM's converters for each selected column that has any."""
    columns = [column for column, _sql, _alias in compiler.select[: compiler.col_count]] if compiler.select else []
    return tuple((i, tuple(c), e) for i, (c, e) in compiler.get_converters(columns).items())


Application = get_application_model()
AccessToken = get_access_token_model()
_APPLICATION_PK = Application._meta.pk
_CLIENT_ID = Application._meta.get_field("client_id")
_CLIENT_SECRET = Application._meta.get_field("client_secret")
_CHECKSUM = AccessToken._meta.get_field("token_checksum")
_KID = SigningKey._meta.get_field("kid")
_PARTICIPANT_PK = Participant._meta.pk


# --- Client authentication -------------------------------------------------------------------------


def _in_model_order(model, attnames: set[str]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in attnames)


# The client columns django-oauth-toolkit's client-credentials flow reads, and the participant columns
# the access token's claims need; any other would be fetched lazily, which the query-count tests catch.
CLIENT_FIELDS = _in_model_order(
    Application,
    {
        "id",
        "client_id",
        "client_secret",
        "client_type",
        "authorization_grant_type",
        "hash_client_secret",
        "algorithm",
        "user_id",
    },
)
PARTICIPANT_FIELDS = _in_model_order(
    Participant, {"id", "role", "organisation_id", "review_status", "status", "application_id"}
)

CLIENT = Statement(
    lambda client_id: Application.objects.filter(may_authenticate("participant__"), client_id=client_id).values_list(
        *CLIENT_FIELDS, *(f"participant__{name}" for name in PARTICIPANT_FIELDS)
    ),
    client_id=_CLIENT_ID,
)


def client_that_may_authenticate(client_id: str):
    """django-oauth-toolkit's Application for `client_id`, its participant attached, only while that
    participant may authenticate (`may_authenticate`); else None. Read from the database every time."""
    row = CLIENT.fetchone(client_id=client_id) if _could_be_client_id(client_id) else None
    return _client_from(row) if row is not None else None


def _could_be_client_id(client_id) -> bool:
    return bool(client_id) and "\x00" not in client_id  # PostgreSQL refuses NUL in text; no client ID has one


def _client_from(values) -> models.Model:
    """The Application in CLIENT_FIELDS order, then its Participant in PARTICIPANT_FIELDS order, attached."""
    split = len(CLIENT_FIELDS)
    client = _from_row(Application, CLIENT_FIELDS, values[:split])
    client.participant = _from_row(Participant, PARTICIPANT_FIELDS, values[split:])  # attached, no query
    return client


def _from_row(model, attnames: tuple[str, ...], values) -> models.Model:
    """A model instance from converted column values, `attnames` in the model's field order."""
    return model.from_db(DEFAULT_DB_ALIAS, attnames, values)


# --- Client assertions (private_key_jwt) -------------------------------------------------------------

# A client assertion's check reads the client (as CLIENT does) and its participant's keys for the assertion's
# algorithm in one statement: a row per key. Which of them may sign is the model's rule alone
# (ParticipantKey.unusable_at), judged on the loaded rows (authapi/assertions.py).
KEY_FIELDS = _in_model_order(
    ParticipantKey, {"id", "participant_id", "kid", "jwk", "key_type", "alg", "status", "valid_from", "valid_until"}
)
CLIENT_WITH_KEYS = Statement(
    lambda client_id, alg: (
        ParticipantKey.objects.filter(
            may_authenticate("participant__"),
            participant__application__client_id=client_id,
            alg=alg,
        )
        .order_by("-created_at")
        .values_list(
            *KEY_FIELDS,
            *(f"participant__application__{name}" for name in CLIENT_FIELDS),
            *(f"participant__{name}" for name in PARTICIPANT_FIELDS),
        )
    ),
    client_id=_CLIENT_ID,
    alg=ParticipantKey._meta.get_field("alg"),
)


def client_with_keys(client_id: str, alg: str):
    """(client, keys): `client_that_may_authenticate(client_id)`, and its participant's keys for `alg`,
    newest first, each carrying the participant, whatever their status (ParticipantKey.unusable_at decides
    which may sign); (None, []) when there is no such client or it has no key for `alg`. One statement."""
    rows = CLIENT_WITH_KEYS.fetchall(client_id=client_id, alg=alg) if _could_be_client_id(client_id) else []
    if not rows:
        return None, []
    keys_end = len(KEY_FIELDS)
    client = _client_from(rows[0][keys_end:])
    participant = client.participant
    keys = []
    for row in rows:
        key = _from_row(ParticipantKey, KEY_FIELDS, row[:keys_end])
        key.participant = participant
        keys.append(key)
    return client, keys


# --- Token issuance ----------------------------------------------------------------------------------

# The token row is written only while its client may still authenticate with the secret it presented,
# and only while the key that signed the token is still the active one; both checked in the INSERT.
_CLIENT_STILL_USABLE = Statement(
    lambda pk, secret: (
        Application.objects.filter(may_authenticate("participant__"), pk=pk, client_secret=secret)
        .order_by()
        .values("pk")
    ),
    pk=_APPLICATION_PK,
    secret=_CLIENT_SECRET,
)
_KEY_STILL_ACTIVE = Statement(
    lambda kid: SigningKey.objects.active().filter(kid=kid).order_by().values("pk"),
    kid=_KID,
)
_TOKEN_FIELDS = [f for f in AccessToken._meta.concrete_fields if not f.primary_key]


def _token_insert_sql(db) -> str:
    quote = db.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _TOKEN_FIELDS)
    placeholders = ", ".join(["%s"] * len(_TOKEN_FIELDS))
    sql = (
        f"INSERT INTO {quote(AccessToken._meta.db_table)} ({columns}) SELECT {placeholders} "
        f"WHERE EXISTS ({_CLIENT_STILL_USABLE.compiled(db).sql}) AND EXISTS ({_KEY_STILL_ACTIVE.compiled(db).sql})"
    )
    if settings.OCEN_TOKEN_ASYNC_COMMIT and db.vendor == "postgresql":
        # The statement is its own transaction (autocommit); set_config(..., true) scopes the setting
        # to it, so this one commit does not wait for its WAL flush, in the same round trip.
        sql += " AND set_config('synchronous_commit', 'off', true) = 'off'"
    return sql


_insert_sql: dict[tuple[str, bool], str] = {}


def insert_access_token(*, client, raw_token: str, kid: str, scope: str, expires, resource) -> bool:
    """Write a client-credentials token into django-oauth-toolkit's AccessToken table, only if its
    client may still authenticate with the secret hash it was authenticated against and `kid` (the
    key that signed it) is still the active signing key; False when not written.

    The row is what AccessToken.save() would write (hashed storage under RFC 9700: a blank `token`
    and the SHA-256 `token_checksum`; both timestamps now; no user, refresh or ID token), built
    without a model instance. With OCEN_TOKEN_ASYNC_COMMIT (the default) PostgreSQL acknowledges the
    row before it is flushed to disk: a crash may lose the newest tokens, which then fail as revoked."""
    db = connections[DEFAULT_DB_ALIAS]
    cache_key = (db.vendor, settings.OCEN_TOKEN_ASYNC_COMMIT)
    sql = _insert_sql.get(cache_key) or _insert_sql.setdefault(cache_key, _token_insert_sql(db))
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
    values = [field.get_db_prep_save(row.get(field.attname), db) for field in _TOKEN_FIELDS]
    values += _CLIENT_STILL_USABLE.params(db, pk=client.id, secret=client.client_secret)
    values += _KEY_STILL_ACTIVE.params(db, kid=kid)
    with db.cursor() as cursor:
        cursor.execute(sql, values)
        return cursor.rowcount == 1


# --- Bearer tokens on the registry API ----------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The participant behind a valid bearer token (DRF's request.auth on registry reads), with what the
    same statement read for the rest of the request: the change stamp of the participant the request is
    about, and the kid of the signing key that is active now (which signs the answer)."""

    participant_id: str
    client_id: str
    subject_id: uuid.UUID | None = None
    subject_stamp: str | None = None
    active_kid: str | None = None


def _stamp(pk):
    return Participant.objects.filter(pk=pk).order_by().values(stamp=Cast("updated_at", TextField()))[:1]


def _active_kid():
    return SigningKey.objects.active().order_by().values("kid")[:1]


# A token issued before its participant's tokens_valid_from (its reinstatement) is never honoured.
ISSUED_SINCE_REINSTATEMENT = Q(application__participant__tokens_valid_from__isnull=True) | Q(
    created__gte=F("application__participant__tokens_valid_from")
)

CALLER = Statement(
    lambda checksum, kid, subject: (
        AccessToken.objects.filter(
            may_authenticate("application__participant__"),
            ISSUED_SINCE_REINSTATEMENT,
            token_checksum=checksum,
            expires__gt=Now(),
        )
        .filter(Exists(SigningKey.objects.verifying_at(Now()).filter(kid=kid)))
        .annotate(subject_stamp=Subquery(_stamp(subject)), active_kid=Subquery(_active_kid()))
        .values_list("application__participant__id", "application__client_id", "subject_stamp", "active_kid")
    ),
    checksum=_CHECKSUM,
    kid=_KID,
    subject=_PARTICIPANT_PK,
)


def caller_for_token(token: str, *, kid: str | None, subject_id: uuid.UUID | None = None) -> Caller | None:
    """The caller if the token was issued here and is neither revoked nor expired, the key that signed
    it (`kid`, from its header) is still published, and its participant may authenticate; else None.
    The same round trip reads `subject_id`'s change stamp and the active signing key's kid."""
    if kid is not None and "\x00" in kid:
        return None
    row = CALLER.fetchone(checksum=hashlib.sha256(token.encode("utf-8")).hexdigest(), kid=kid, subject=subject_id)
    if row is None:
        return None
    return Caller(str(row[0]), row[1], subject_id, row[2], row[3])


STAMP = Statement(lambda pk: _stamp(pk), pk=_PARTICIPANT_PK)


def participant_stamp(participant_id: uuid.UUID) -> str | None:
    """The participant's last-change time, as an opaque string; None when there is no such participant.

    Every service that changes what the registry publishes about a participant (its record, keys or
    organisation) moves this stamp, so a rendering cached under it is current.
    """
    row = STAMP.fetchone(pk=participant_id)
    return row[0] if row else None


ACTIVE_KID = Statement(lambda: _active_kid())


def active_kid() -> str | None:
    """The kid of the signing key that is active now, as committed."""
    row = ACTIVE_KID.fetchone()
    return row[0] if row else None
