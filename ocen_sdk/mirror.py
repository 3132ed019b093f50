"""A local copy of what the registry lets a participant see (issue 16): its snapshot, then its change feed, kept
in a SQLite file, so that lookups and a Verifier's checks make no registry request."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeGuard

import requests

from .errors import OcenError, RegistryError
from .jws import JSONObject, VerifiedKey, _parse_instant, _parse_time, verify
from .registry import RegistryClient, _json
from .verifier import _canonical_id

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
PAGE = 500  # the feed's largest page
SECTIONS = {"participants": "participant", "products": "product", "networks": "network"}  # snapshot list → kind
# What a publicKeys item carries besides its public JWK: publicKey is the item without them.
PUBLICATION_MEMBERS = frozenset(
    {"status", "validFrom", "validUntil", "primary", "primaryFrom", "revokedAt", "withheld"}
)


class FeedGone(RegistryError):
    """The feed no longer holds the changes after the mirror's sequence (410): take the snapshot again."""


class RegistryMirror:
    """The registry's records as the caller of `registry_client` sees them, in a SQLite file at `path`.

    sync() loads the snapshot into an empty file (or after a 410), then follows the feed from the file's last
    applied sequence, one page per SQLite transaction; every answer's registry signature is checked before any
    of it is applied, and one that fails applies nothing (RegistryError). Lookups (participant, participant_keys,
    product, network) and verify_signature answer from the file alone, so a Verifier built on a mirror
    (`Verifier(issuer, mirror)`) makes no registry request: the copy is as fresh as its last sync. Each thread
    has its own connection (WAL: readers never wait for a sync). With `registry_client` None the file is only
    read, and must exist."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        registry_client: RegistryClient | None = None,
        *,
        poll_interval: float = 30,
        snapshot_timeout: float = 300,
    ) -> None:
        if registry_client is None and not os.path.exists(path):
            raise FileNotFoundError(f"No registry mirror at {path}: sync one first.")
        self.path, self.client, self.poll_interval = str(path), registry_client, poll_interval
        self.snapshot_timeout = snapshot_timeout  # the registry renders every record for it: tens of seconds at 100k
        self.keys = MirrorKeys(self)
        self.last_error: OcenError | sqlite3.Error | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock, self._sync_lock = threading.Lock(), threading.Lock()
        self._wake = threading.Event()
        self._unknown_kid: str | None = None
        if registry_client is not None:
            self._db().executescript(SCHEMA)
            self._claim(f"{registry_client.base} as {registry_client.token_client.client_id}")

    def _claim(self, view: str) -> None:
        """Tie the file to one registry and one caller: records are what that caller may see, so another
        registry or another participant's credentials must not mix their view into it."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'view'").fetchone()
            if row is None:
                _set(db, "view", view)
            elif row[0] != view:
                raise RegistryError(f"The registry mirror at {self.path} holds {row[0]}'s view, not {view}'s.")

    def close(self) -> None:
        """Close every thread's SQLite connection (the registry client is the caller's to close)."""
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # --- Lookups, answered from the file ---------------------------------------------------------------

    @property
    def seq(self) -> int | None:
        """The last feed sequence applied; None before the first sync."""
        return _stored_seq(self._db())

    def counts(self) -> dict[str, int]:
        """How many records of each kind the mirror holds."""
        found = dict(self._db().execute("SELECT kind, COUNT(*) FROM record GROUP BY kind").fetchall())
        return {name: found.get(kind, 0) for name, kind in SECTIONS.items()}

    def participant(self, participant_id: str) -> JSONObject:
        """GetParticipantDetails as the registry answers it now, scheduled switches of primary key included."""
        return _as_of(self._record("participant", participant_id), dt.datetime.now(dt.UTC))

    def participant_keys(self, participant_id: str) -> JSONObject:
        """The participant's JWKS, as GET /service/participant-roles/{id}/jwks answers it."""
        return {"keys": self.participant(participant_id)["publicKeys"]["keys"]}

    def product(self, product_id: str) -> JSONObject:
        """A product as GET /service/products/{id} answers its `data`. Withdrawn products are not in the feed's
        view, so not here either (that lookup still answers them, WITHDRAWN)."""
        return self._record("product", product_id)

    def network(self, network_id: str) -> JSONObject:
        """A network as GET /service/product-networks/{id} answers it (its product active)."""
        return {name: value for name, value in self._record("network", network_id).items() if name != "members"}

    def verify_signature(self, participant_id: str, body: bytes, signature: str) -> VerifiedKey:
        """Verify a participant's detached JWS with its keys in the mirror (no refresh: an unknown kid is
        refused until a sync brings it). Returns the VerifiedKey."""
        return verify(body, signature, self.participant(participant_id)["publicKeys"])

    def _record(self, kind: str, record_id: str) -> JSONObject:
        key = (kind, _canonical_id(str(record_id)))
        row = self._db().execute("SELECT body FROM record WHERE kind = ? AND id = ?", key).fetchone()
        if row is not None:
            record: JSONObject = json.loads(row[0])  # stored as the registry's JSON object, verified
            return record
        if self.seq is None:  # an outage, not a verdict: nothing to answer from yet
            raise RegistryError(f"The registry mirror at {self.path} has not been synced yet.")
        raise RegistryError(f"No {kind} with id {record_id!r} in the registry mirror.", 404)

    # --- Following the registry --------------------------------------------------------------------------

    def sync(self) -> int:
        """Catch up with the registry: the snapshot if the file is empty, then the feed until `hasMore` is false;
        after a 410 (the feed no longer reaches back to the file's sequence), the snapshot again. Then keep a
        copy of the registry's JWKS. Returns the sequence applied."""
        with self._sync_lock:
            seq = self.seq
            try:
                seq = self._follow_feed(self._bootstrap() if seq is None else seq)
            except FeedGone:
                log.warning("Registry mirror %s: the feed no longer reaches seq %s; taking a snapshot", self.path, seq)
                seq = self._follow_feed(self._bootstrap())  # a second 410 is an error
            self._keep_registry_keys()
            return seq

    def follow(self, stop_event: threading.Event | None = None) -> None:
        """Sync, then sleep `poll_interval` seconds or until nudge(), until `stop_event` is set (set it, then
        nudge(), to stop at once). A failed sync (the registry unreachable, an answer that does not verify) is
        logged and kept in `last_error`, and tried again next round; the copy stays as it was."""
        stop = stop_event or threading.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                self.sync()
                self.last_error = None
            except (OcenError, sqlite3.Error) as exc:
                self.last_error = exc
                log.warning("Registry mirror %s: sync failed: %s", self.path, exc)
            self._wake.wait(self.poll_interval)

    def nudge(self) -> None:
        """Make a sleeping follow() sync now (a webhook receiver calls this when the registry says something
        changed)."""
        self._wake.set()

    @property
    def _registry(self) -> RegistryClient:
        """The client a sync asks; a mirror opened without one is only read."""
        if self.client is None:
            raise ValueError(f"The registry mirror at {self.path} has no registry client: it is only read.")
        return self.client

    def _verified(self, response: requests.Response, member: str, kind: type) -> JSONObject:
        """A registry answer's document: a 200 carrying `member` of type `kind`, signed by the registry."""
        document = _json(response, member, kind)
        self._registry.verified_content(response)  # the signature over the bytes; the JSON is parsed once, above
        return document

    def _bootstrap(self) -> int:
        """Replace the whole copy with the registry's snapshot, in one transaction; returns its sequence. The
        snapshot is read one record at a time (100,000 participants are a few hundred MB of JSON: as Python
        objects, several times that)."""
        response = self._registry.get("snapshot", timeout=self.snapshot_timeout)
        if response.status_code != 200:
            _json(response, "seq", int)  # the registry's error, as every other answer's
        snapshot = Snapshot(self._registry.verified_content(response).decode("utf-8", errors="strict"))
        with self._transaction() as db:
            db.execute("DELETE FROM record")
            db.executemany("INSERT OR REPLACE INTO record (kind, id, body) VALUES (?, ?, ?)", snapshot.rows())
            _set(db, "seq", snapshot.seq)
        return snapshot.seq

    def _follow_feed(self, seq: int) -> int:
        """Apply the feed's pages after `seq` until the registry has no more; returns the last sequence."""
        while True:
            response = self._registry.get(f"changes?after={seq}&limit={PAGE}")
            if response.status_code == 410:
                self._registry.verified_content(response)
                raise FeedGone(f"The registry's feed no longer reaches back to seq {seq}.", 410)
            page = self._verified(response, "changes", list)
            after, seq = seq, self._apply(page, seq)
            if page.get("hasMore") is not True or seq <= after:
                return seq

    def _apply(self, page: JSONObject, after: int) -> int:
        """One feed page, in one transaction: each record replaced, or deleted where it is null (gone from the
        caller's view). Skipped if another process applied it meanwhile. Returns the sequence now applied."""
        latest = {(kind, record_id): body for kind, record_id, body in _changes(page)}
        next_after = _next_after(page, after)
        with self._transaction() as db:
            stored = _stored_seq(db)
            if stored != after:  # None: emptied meanwhile, and the next sync takes the snapshot
                return stored or 0
            gone = [key for key, body in latest.items() if body is None]
            db.executemany("DELETE FROM record WHERE kind = ? AND id = ?", gone)
            kept = [(*key, body) for key, body in latest.items() if body is not None]
            db.executemany("INSERT OR REPLACE INTO record (kind, id, body) VALUES (?, ?, ?)", kept)
            _set(db, "seq", next_after)
        return next_after

    def _keep_registry_keys(self) -> None:
        """Store the registry's JWKS as the client's RegistryKeys holds it (fetched again once its max-age is
        over, or once early for a kid met on the request path, at most once per its min_refresh_interval)."""
        kid, self._unknown_kid = self._unknown_kid, None
        jwks = self._registry.keys.jwks(unknown_kid=kid)
        with self._transaction() as db:
            _set(db, "registry_jwks", json.dumps(jwks))

    # --- SQLite ---------------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; writes use _transaction)."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            if self.client is not None:
                connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


class MirrorKeys:
    """The registry's signing keys for a Verifier on a mirror: the JWKS its last sync stored, read from the file.
    It never asks the registry: a kid it does not know is asked for at the mirror's next sync (RegistryKeys'
    early refresh, at most once per its min_refresh_interval), and refused until then."""

    def __init__(self, mirror: RegistryMirror) -> None:
        self.mirror = mirror

    def jwks(self, *, unknown_kid: str | None = None) -> JSONObject:
        if unknown_kid is not None:
            self.mirror._unknown_kid = unknown_kid
        row = self.mirror._db().execute("SELECT value FROM meta WHERE name = 'registry_jwks'").fetchone()
        if row is None:
            raise RegistryError(f"The registry mirror at {self.mirror.path} holds no registry keys: sync it first.")
        jwks: JSONObject = json.loads(row[0])  # stored from RegistryKeys.jwks()
        return jwks


def _as_of(record: JSONObject, now: dt.datetime) -> JSONObject:
    """A participant record as the registry renders it at `now`. A scheduled switch of primary key writes no feed
    entry, so it is applied here: for an ACTIVE participant whose keys are not withheld, the primary is, of the
    ACTIVE keys whose primaryFrom has come, the one switched to last (on a tie the newer key, listed first), and
    publicKey is its public JWK as compact JSON (authapi/representations.py compact_jwk)."""
    items = record["publicKeys"]["keys"]
    if record.get("status") != "ACTIVE" or any(item.get("withheld") for item in items):
        return record
    active = [item for item in items if item.get("status") == "ACTIVE"]
    primary = _primary(active, now)
    for item in active:
        item["primary"] = item is primary
    record["publicKey"] = None if primary is None else _compact(primary)
    return record


def _primary(active: list[JSONObject], now: dt.datetime) -> JSONObject | None:
    """Of ACTIVE key items, the one switched to last by `now`; max() keeps the first of a tie, the newest key."""
    due = [item for item in active if _switched_by(item, now)]  # each with a primaryFrom that reads as a time
    return max(due, key=lambda item: _parse_instant(str(item["primaryFrom"])), default=None)


def _compact(item: JSONObject) -> str:
    """A key item's public JWK as publicKey carries it."""
    public = {name: value for name, value in item.items() if name not in PUBLICATION_MEMBERS}
    return json.dumps(public, separators=(",", ":"))


def _switched_by(item: JSONObject, now: dt.datetime) -> bool:
    try:
        moment = _parse_time(item.get("primaryFrom"))
        return moment is not None and moment <= now
    except (ValueError, TypeError):  # a time that cannot be read (or compared) never comes
        return False


class Snapshot:
    """The registry's snapshot document read member by member, and its lists a record at a time: only one
    record is ever a Python object. rows() must be consumed once; `seq` is known once it has been."""

    _decoder = json.JSONDecoder()
    _blank = re.compile(r"[ \t\n\r]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self._seq: object = None  # the document's seq member, whatever it holds
        self._sections: set[str] = set()

    @property
    def seq(self) -> int:
        if not _is_seq(self._seq) or self._sections != set(SECTIONS):
            raise RegistryError("The registry's snapshot has no seq or misses a list of records.")
        return self._seq

    def rows(self) -> Generator[tuple[str, str, str], None, None]:
        """(kind, id, record JSON) for every record, in document order."""
        at = self._expect(0, "{")
        while True:
            name, at = self._value(at)
            if not isinstance(name, str):
                raise RegistryError("The registry's snapshot is not the JSON document it should be.")
            at = self._expect(at, ":")
            if name in SECTIONS:
                self._sections.add(name)
                at = yield from self._records(SECTIONS[name], at)
            else:
                value, at = self._value(at)
                self._seq = value if name == "seq" else self._seq
            if self._next(at) == "}":
                return
            at = self._expect(at, ",")

    def _records(self, kind: str, at: int) -> Generator[tuple[str, str, str], None, int]:
        at = self._expect(at, "[")
        if self._next(at) == "]":
            return self._expect(at, "]")
        while True:
            start = self._skip(at)
            record, at = self._value(start)
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise RegistryError(f"The registry's snapshot carries a malformed {kind} record.")
            yield kind, record["id"], self.text[start:at]
            if self._next(at) == "]":
                return self._expect(at, "]")
            at = self._expect(at, ",")

    def _value(self, at: int) -> tuple[Any, int]:
        try:
            return self._decoder.raw_decode(self.text, self._skip(at))
        except (ValueError, RecursionError):
            raise RegistryError("The registry's snapshot is not JSON.") from None

    def _skip(self, at: int) -> int:
        blank = self._blank.match(self.text, at)  # matches everywhere (perhaps nothing)
        return blank.end() if blank else at

    def _next(self, at: int) -> str:
        return self.text[self._skip(at) : self._skip(at) + 1]

    def _expect(self, at: int, token: str) -> int:
        at = self._skip(at)
        if self.text[at : at + 1] != token:
            raise RegistryError("The registry's snapshot is not the JSON document it should be.")
        return at + 1


def _changes(page: JSONObject) -> Iterator[tuple[str, str, str | None]]:
    """The page's changes as (kind, id, record JSON or None); unknown members are ignored."""
    for change in page["changes"]:
        if not _is_change(change):
            raise RegistryError("The registry's feed carries a malformed change.")
        record = change["record"]
        yield change["kind"], change["id"], None if record is None else json.dumps(record)


def _is_change(change: object) -> bool:
    if not isinstance(change, dict) or not isinstance(change.get("kind"), str) or not isinstance(change.get("id"), str):
        return False
    return "record" in change and (change["record"] is None or isinstance(change["record"], dict))


def _next_after(page: JSONObject, after: int) -> int:
    next_after = page.get("nextAfter")
    if not _is_seq(next_after) or next_after < after:
        raise RegistryError(f"The registry's feed answers nextAfter {next_after!r} after {after}.")
    return next_after


def _stored_seq(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE name = 'seq'").fetchone()
    return int(row[0]) if row else None


def _is_seq(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _set(db: sqlite3.Connection, name: str, value: object) -> None:
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, str(value)))
