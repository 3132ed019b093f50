"""The registry's sync documents as a mirror reads them (contract §8: GET /service/snapshot, GET /service/changes):
the snapshot a record at a time, a feed page's changes, and what a stored answer says of each record (a SHA-256 of
its JSON, as the mirror stored it), so that a record can be checked against the signed answer it came from."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Generator, Iterator
from typing import Any, TypeGuard

from .errors import RegistryError
from .jws import JSONObject

SECTIONS = {"participants": "participant", "products": "product", "networks": "network"}  # snapshot list → kind

# What an applied answer says of each record it carries: (kind, id) → the SHA-256 of its JSON, None where it says
# the record is gone from view.
Digests = dict[tuple[str, str], bytes | None]


def digest(body: str | None) -> bytes | None:
    return None if body is None else hashlib.sha256(body.encode()).digest()


def noted(
    rows: Iterator[tuple[str, str, str | None]], digests: Digests
) -> Generator[tuple[str, str, str | None], None, None]:
    """`rows` as they pass, each record's digest noted in `digests` (a later row of the same record wins)."""
    for kind, record_id, body in rows:
        digests[(kind, record_id)] = digest(body)
        yield kind, record_id, body


def said(kind: str, body: bytes) -> Digests:
    """What a stored answer (a snapshot, or a feed page) says of each record, read as it was read when applied."""
    if kind == "snapshot":
        rows: Iterator[tuple[str, str, str | None]] = Snapshot(body.decode("utf-8", errors="strict")).rows()
    else:
        try:
            page = json.loads(body)
        except (ValueError, RecursionError):
            raise RegistryError("A stored feed page is not JSON.") from None
        if not isinstance(page, dict) or not isinstance(page.get("changes"), list):
            raise RegistryError("A stored feed page is not the registry's.")
        rows = changes_of(page)
    return {(record_kind, record_id): digest(record) for record_kind, record_id, record in rows}


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
        if not is_seq(self._seq) or self._sections != set(SECTIONS):
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


def changes_of(page: JSONObject) -> Iterator[tuple[str, str, str | None]]:
    """The page's changes as (kind, id, record JSON or None); unknown members are ignored."""
    for change in page["changes"]:
        if not is_change(change):
            raise RegistryError("The registry's feed carries a malformed change.")
        record = change["record"]
        yield change["kind"], change["id"], None if record is None else json.dumps(record)


def is_change(change: object) -> bool:
    if not isinstance(change, dict) or not isinstance(change.get("kind"), str) or not isinstance(change.get("id"), str):
        return False
    return "record" in change and (change["record"] is None or isinstance(change["record"], dict))


def next_after(page: JSONObject, after: int) -> int:
    next_after = page.get("nextAfter")
    if not is_seq(next_after) or next_after < after:
        raise RegistryError(f"The registry's feed answers nextAfter {next_after!r} after {after}.")
    return next_after


def is_seq(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
