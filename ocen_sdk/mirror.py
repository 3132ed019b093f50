"""A local copy of what the registry lets a participant see (issue 16): its snapshot, then its change feed, kept
in a SQLite file, so that lookups and a Verifier's checks make no registry request.

The file is not trusted on its own (issue 31). It keeps every registry answer it applied (the snapshot, each feed
page) with the registry's signature over its exact bytes, and every record names the answer it came from: a record
is answered only once that answer's signature verifies and the record is what it says. The registry's signing keys
come from an anchor, never from the file alone: the mirror's RegistryClient (its RegistryKeys, found from the
issuer), or for a mirror only read, the keys its caller gives (RegistryKeys(issuer), or keys it pinned). A file
altered since the registry signed it is refused (RegistryError, an outage to a Verifier), not believed."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import requests

from .errors import OcenError, RegistryError, VerificationError
from .feed import SECTIONS, Digests, Snapshot, changes_of, digest, next_after, noted, said
from .jws import KEY_MEMBERS, JSONObject, VerifiedKey, _parse_instant, _parse_time, header_of, verify
from .registry import KeySource, RegistryClient, _json, verify_registry_signature
from .verifier import _canonical_id

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS source (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body BLOB NOT NULL, signature TEXT NOT NULL, kid TEXT
);
CREATE TABLE IF NOT EXISTS record (
    kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT, source INTEGER NOT NULL, PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS record_source ON record (source);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
PAGE = 500  # the feed's largest page
# What a publicKeys item carries besides its public JWK: publicKey is the item without them.
PUBLICATION_MEMBERS = frozenset(
    {"status", "validFrom", "validUntil", "primary", "primaryFrom", "revokedAt", "withheld"}
)
OUTAGE_RETRY = 30  # seconds before a mirror's keys ask an unreachable anchor again


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
    read, and must exist; `keys` then says where the registry's signing keys come from (RegistryKeys(issuer), or
    keys the caller pinned): the file's own copy is used only as far as they vouch for it (see MirrorKeys)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        registry_client: RegistryClient | None = None,
        *,
        keys: KeySource | None = None,
        poll_interval: float = 30,
        snapshot_timeout: float = 300,
    ) -> None:
        if registry_client is None and not os.path.exists(path):
            raise FileNotFoundError(f"No registry mirror at {path}: sync one first.")
        self.path, self.client, self.poll_interval = str(path), registry_client, poll_interval
        self.snapshot_timeout = snapshot_timeout  # the registry renders every record for it: tens of seconds at 100k
        self.last_error: OcenError | sqlite3.Error | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock, self._sync_lock, self._sources_lock = (
            threading.Lock(),
            threading.Lock(),
            threading.Lock(),
        )
        self._wake = threading.Event()
        self._unknown_kid: str | None = None
        self._answer_kid: str | None = None  # the kid of the last registry answer a sync verified
        self._sources: dict[int, Digests] = {}  # the applied answers this process has checked, by source id
        if registry_client is not None:
            self._upgrade()
            self._db().executescript(SCHEMA)
            self._claim(f"{registry_client.base} as {registry_client.token_client.client_id}")
        elif self._made_by_an_earlier_toolkit():
            raise RegistryError(f"The registry mirror at {self.path} was made by an earlier ocen_sdk: sync it again.")
        anchor = keys or (registry_client.keys if registry_client is not None else None)
        if anchor is None:
            raise ValueError(
                "A registry mirror opened without a registry client needs the registry's keys to check it with "
                "(keys=RegistryKeys(issuer), or keys you pinned; on the command line, --issuer): the file alone "
                "is not trusted."
            )
        self.keys = MirrorKeys(self, anchor)

    def _made_by_an_earlier_toolkit(self) -> bool:
        """Whether the file's records name no signed answer (the format before issue 31)."""
        columns = {row[1] for row in self._db().execute("PRAGMA table_info(record)")}
        return bool(columns) and "source" not in columns

    def _upgrade(self) -> None:
        """A file of the earlier format is emptied (its records cannot be checked): the next sync takes the snapshot."""
        if self._made_by_an_earlier_toolkit():
            with self._transaction() as db:
                db.execute("DROP TABLE record")
                db.execute("DELETE FROM meta WHERE name IN ('seq', 'registry_jwks')")

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
        rows = self._db().execute("SELECT kind, COUNT(*) FROM record WHERE body IS NOT NULL GROUP BY kind")
        found = dict(rows.fetchall())
        return {name: found.get(kind, 0) for name, kind in SECTIONS.items()}

    def participant(self, participant_id: str) -> JSONObject:
        """GetParticipantDetails as the registry answers it now, scheduled switches of primary key included."""
        return _as_of(self._record("participant", participant_id), dt.datetime.now(dt.UTC))

    def participant_keys(self, participant_id: str) -> JSONObject:
        """The participant's JWKS, as GET /service/participant-roles/{id}/jwks answers it."""
        return {"keys": self.participant(participant_id)["publicKeys"]["keys"]}

    def product(self, product_id: str) -> JSONObject:
        """A product as GET /service/products/{id} answers its `data`."""
        return self._record("product", product_id)

    def network(self, network_id: str) -> JSONObject:
        """A network as GET /service/product-networks/{id} answers it."""
        return {name: value for name, value in self._record("network", network_id).items() if name != "members"}

    def verify_signature(self, participant_id: str, body: bytes, signature: str) -> VerifiedKey:
        """Verify a participant's detached JWS with its keys in the mirror (no refresh: an unknown kid is
        refused until a sync brings it). Returns the VerifiedKey."""
        return verify(body, signature, self.participant(participant_id)["publicKeys"])

    def check(self) -> None:
        """Check the whole file now, as each lookup checks what it reads: every stored answer's registry signature,
        and every record against the answer it names. RegistryError when anything was altered (a Verifier's
        process may call it at start-up, to refuse an altered file before it serves)."""
        with self._reading() as db:
            for kind, record_id, body, source in db.execute("SELECT kind, id, body, source FROM record").fetchall():
                self._check(kind, record_id, body, source)

    def _record(self, kind: str, record_id: str) -> JSONObject:
        key = (kind, _canonical_id(str(record_id)))
        with self._reading() as db:
            row = db.execute("SELECT body, source FROM record WHERE kind = ? AND id = ?", key).fetchone()
            if row is not None and row[0] is not None:
                self._check(*key, row[0], row[1])
                record: JSONObject = json.loads(row[0])  # the registry's JSON object, as it signed it
                return record
        if self.seq is None:  # an outage, not a verdict: nothing to answer from yet
            raise RegistryError(f"The registry mirror at {self.path} has not been synced yet.")
        raise RegistryError(f"No {kind} with id {record_id!r} in the registry mirror.", 404)

    def _check(self, kind: str, record_id: str, body: str | None, source: int) -> None:
        """The record is what the stored answer `source` says of it, and that answer is signed by the registry."""
        stated = self._digests(source)
        if (kind, record_id) not in stated or stated[(kind, record_id)] != digest(body):
            raise self._altered(f"its {kind} {record_id} is not what the registry's answer said")

    def _digests(self, source: int) -> Digests:
        """What stored answer `source` says of each record, once its registry signature has been checked (once per
        process: an answer is never changed once stored, so one that is changed is checked no more)."""
        digests = self._sources.get(source)
        if digests is not None:
            return digests
        with self._sources_lock:
            row = self._db().execute("SELECT kind, body, signature FROM source WHERE id = ?", (source,)).fetchone()
            if row is None:
                raise self._altered(f"a record names answer {source}, which it does not hold")
            kind, body, signature = row
            try:
                verify_registry_signature(bytes(body), signature, self.keys)
            except VerificationError as failed:
                raise self._altered(
                    f"the registry's signature over answer {source} does not verify ({failed.reason})"
                ) from None
            digests = said(kind, bytes(body))
            kept = {row[0] for row in self._db().execute("SELECT id FROM source")}
            self._sources = {**{k: v for k, v in self._sources.items() if k in kept}, source: digests}
            return digests

    def _altered(self, what: str) -> RegistryError:
        return RegistryError(
            f"The registry mirror at {self.path} was altered since the registry signed it ({what}): "
            "delete it and sync again."
        )

    # --- Following the registry --------------------------------------------------------------------------

    def sync(self) -> int:
        """Catch up with the registry: the snapshot if the file is empty, then the feed until `hasMore` is false;
        after a 410 (the feed no longer reaches back to the file's sequence), the snapshot again. The snapshot is
        taken again too when the registry signs with another key than the stored answers were signed with (a
        rotation): each stored signature then stays verifiable while the older key is still published. Then keep
        a copy of the registry's JWKS. Returns the sequence applied."""
        with self._sync_lock:
            seq = self.seq
            try:
                seq = self._follow_feed(self._bootstrap() if seq is None else seq)
            except FeedGone:
                log.warning("Registry mirror %s: the feed no longer reaches seq %s; taking a snapshot", self.path, seq)
                seq = self._follow_feed(self._bootstrap())  # a second 410 is an error
            if self._signed_with_an_older_key():
                log.info("Registry mirror %s: the registry signs with another key; taking a snapshot", self.path)
                seq = self._follow_feed(self._bootstrap())
            self._keep_registry_keys()
            return seq

    def _signed_with_an_older_key(self) -> bool:
        row = self._db().execute("SELECT 1 FROM source WHERE kid IS NOT ? LIMIT 1", (self._answer_kid,)).fetchone()
        return row is not None

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
        self._verified_content(response)  # the signature over the bytes; the JSON is parsed once, above
        return document

    def _verified_content(self, response: requests.Response) -> bytes:
        content = self._registry.verified_content(response)
        self._answer_kid = (header_of(response.headers.get("x-jws-signature")) or {}).get("kid")
        return content

    def _bootstrap(self) -> int:
        """Replace the whole copy with the registry's snapshot, in one transaction; returns its sequence. The
        snapshot is read one record at a time (100,000 participants are a few hundred MB of JSON: as Python
        objects, several times that), and kept as signed beside the records read from it."""
        response = self._registry.get("snapshot", timeout=self.snapshot_timeout)
        if response.status_code != 200:
            _json(response, "seq", int)  # the registry's error, as every other answer's
        content = self._verified_content(response)
        snapshot = Snapshot(content.decode("utf-8", errors="strict"))
        digests: Digests = {}
        with self._transaction() as db:
            db.execute("DELETE FROM record")
            db.execute("DELETE FROM source")
            source = _store(db, "snapshot", response)
            rows = ((kind, record_id, body, source) for kind, record_id, body in noted(snapshot.rows(), digests))
            db.executemany("INSERT OR REPLACE INTO record (kind, id, body, source) VALUES (?, ?, ?, ?)", rows)
            _set(db, "seq", snapshot.seq)
        self._sources = {source: digests}
        return snapshot.seq

    def _follow_feed(self, seq: int) -> int:
        """Apply the feed's pages after `seq` until the registry has no more; returns the last sequence."""
        while True:
            response = self._registry.get(f"changes?after={seq}&limit={PAGE}")
            if response.status_code == 410:
                self._verified_content(response)
                raise FeedGone(f"The registry's feed no longer reaches back to seq {seq}.", 410)
            page = self._verified(response, "changes", list)
            after, seq = seq, self._apply(page, response, seq)
            if page.get("hasMore") is not True or seq <= after:
                return seq

    def _apply(self, page: JSONObject, response: requests.Response, after: int) -> int:
        """One feed page, in one transaction: each record replaced, or marked gone where it is null (gone from the
        caller's view), each naming the page, which is kept as signed while a record names it. Skipped if another
        process applied it meanwhile. Returns the sequence now applied."""
        digests: Digests = {}
        latest = {(kind, record_id): body for kind, record_id, body in noted(changes_of(page), digests)}
        applied = next_after(page, after)
        with self._transaction() as db:
            stored = _stored_seq(db)
            if stored != after:  # None: emptied meanwhile, and the next sync takes the snapshot
                return stored or 0
            source = _store(db, "changes", response)
            rows = [(kind, record_id, body, source) for (kind, record_id), body in latest.items()]
            db.executemany("INSERT OR REPLACE INTO record (kind, id, body, source) VALUES (?, ?, ?, ?)", rows)
            db.execute("DELETE FROM source WHERE NOT EXISTS (SELECT 1 FROM record WHERE record.source = source.id)")
            _set(db, "seq", applied)
        self._sources[source] = digests
        return applied

    def _keep_registry_keys(self) -> None:
        """Store the registry's JWKS as the client's RegistryKeys holds it: fetched again once its max-age is over,
        or before, when it would be over before the next sync is due (so that the copy in the file is never older
        than its max-age, and holds each signing key the registry publishes ahead of its use before that key
        signs), and once early for a kid met on the request path."""
        kid, self._unknown_kid = self._unknown_kid, None
        jwks = self._registry.keys.jwks(unknown_kid=kid, fresh_for=2 * self.poll_interval)
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
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (WAL: a consistent view), so that a sync cannot remove the answer a record names
        between reading the one and the other."""
        db = self._db()
        if db.in_transaction:
            yield db
            return
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

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
    """The registry's signing keys for a Verifier on a mirror, and for the mirror's check of the answers it stores:
    the keys `anchor` publishes (the mirror's RegistryKeys, or the keys its caller gave). The file alone never adds
    a key, and a key the registry published after the file's last sync (a mirror synced by cron) verifies at once.
    The anchor is asked on each call, which costs nothing while its copy is fresh; a stored key it does not hold
    makes it fetch early, once per kid (a token's unknown kid asks nothing on the request path: the next sync
    does). While the anchor cannot be reached, the keys it last published go on being used (the mirror's point is
    to answer through a registry outage), and it is asked again after OUTAGE_RETRY seconds."""

    def __init__(self, mirror: RegistryMirror, anchor: KeySource) -> None:
        self.mirror, self.anchor = mirror, anchor
        clock: Callable[[], float] = getattr(anchor, "clock", time.monotonic)
        self.clock = clock
        self._lock = threading.Lock()
        self._published: dict[str, JSONObject] | None = None  # the anchor's keys as it last published them
        self._retry_at = 0.0

    def jwks(self, *, unknown_kid: str | None = None) -> JSONObject:
        if unknown_kid is not None:
            self.mirror._unknown_kid = unknown_kid
        row = self.mirror._db().execute("SELECT value FROM meta WHERE name = 'registry_jwks'").fetchone()
        if row is None:
            raise RegistryError(f"The registry mirror at {self.mirror.path} holds no registry keys: sync it first.")
        stored = [key for key in json.loads(row[0]).get("keys", []) if isinstance(key, dict)]
        published = self._published_for(stored)
        # The anchor's keys are the registry's word; the file's copy only tells which to ask for early. A key the
        # registry switched to after the file's last sync (a mirror synced by cron) verifies at once.
        return {"keys": list(published.values())}

    def _published_for(self, stored: list[JSONObject]) -> dict[str, JSONObject]:
        """The anchor's keys by identity (kid and key material), asked of it now unless it is unreachable."""
        with self._lock:
            now = self.clock()
            if self._published is not None and now < self._retry_at:
                return self._published
            try:
                jwks = self.anchor.jwks(unknown_kid=_first_unknown(stored, self._published or {}))
            except RegistryError as exc:
                if self._published is None:
                    raise
                log.warning("Registry mirror %s: the registry's keys cannot be read (%s)", self.mirror.path, exc)
                self._retry_at = now + OUTAGE_RETRY
                return self._published
            self._published = {_key_id(key): key for key in jwks.get("keys", []) if isinstance(key, dict)}
            return self._published


def _first_unknown(stored: list[JSONObject], known: dict[str, JSONObject]) -> str | None:
    """The kid of the first stored key `known` does not hold: the anchor fetches early for it, once per kid."""
    kid = next((key.get("kid") for key in stored if _key_id(key) not in known), None)
    return kid if isinstance(kid, str) else None


def _key_id(key: JSONObject) -> str:
    """A JWK's identity for MirrorKeys: its kid and its key members."""
    return json.dumps([key.get("kid"), *(key.get(name) for name in KEY_MEMBERS)])


def _store(db: sqlite3.Connection, kind: str, response: requests.Response) -> int:
    """Keep a registry answer as it was signed; returns its id."""
    signature = response.headers["x-jws-signature"]  # verified_content refused an answer without one
    kid = (header_of(signature) or {}).get("kid")
    cursor = db.execute(
        "INSERT INTO source (kind, body, signature, kid) VALUES (?, ?, ?, ?)", (kind, response.content, signature, kid)
    )
    return cursor.lastrowid or 0  # an INSERT into a rowid table always has one


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


def _stored_seq(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE name = 'seq'").fetchone()
    return int(row[0]) if row else None


def _set(db: sqlite3.Connection, name: str, value: object) -> None:
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, str(value)))
