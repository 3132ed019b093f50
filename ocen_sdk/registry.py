"""The registry seen from a participant: its signing keys (via discovery) and participant records."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypedDict

import requests

from .errors import RegistryError, VerificationError
from .jws import JSONObject, VerifiedKey, header_of, verify
from .tokens import TokenClient

SIGNATURE_HEADERS = ("x-jws-signature", "Signature")


class KeySource(Protocol):
    """The registry's JWKS, fetched early for a kid it does not hold (at the source's discretion):
    RegistryKeys, or a RegistryMirror's keys."""

    def jwks(self, *, unknown_kid: str | None = None) -> JSONObject: ...


def primary_kid(record: JSONObject) -> str | None:
    """The kid of the key a participant record names as its publicKey, the one verifiers that read only
    publicKey (the OCEN reference client) accept; None when it names none (a suspended participant)."""
    try:
        kid: str | None = json.loads(record.get("publicKey") or "null")["kid"]
    except (ValueError, TypeError, KeyError):
        return None
    return kid


KIDS_REMEMBERED = 1024  # unknown kids whose last early fetch is remembered (a flood of forged kids forgets the oldest)


class RegistryKeys:
    """The registry's JWKS, found from the issuer alone (OpenID discovery).

    A copy is used for as long as the registry's Cache-Control max-age says, then fetched again, so a
    signing key the registry withdraws stops verifying here within that time. The registry publishes its next
    signing key that long before it signs, so a rotation never shows here as an unknown kid; a kid the copy does
    not know (a switch at once, after a compromise) makes it fetch at once: once per kid per
    `min_refresh_interval`, and no early fetch within `min_fetch_interval` of the last one, so that a flood of
    forged kids costs the registry at most one request per `min_fetch_interval`. Every answer must be a 200 with
    the expected JSON, or RegistryError is raised. Ages are read from `clock`, seconds that only go forward
    (time.monotonic; a test passes one it sets)."""

    def __init__(
        self,
        issuer: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10,
        min_refresh_interval: float = 30,
        min_fetch_interval: float = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.session = session or requests.Session()
        self.timeout, self.min_refresh_interval, self.clock = timeout, min_refresh_interval, clock
        self.min_fetch_interval = min_fetch_interval
        self._lock = threading.Lock()
        self._jwks: JSONObject | None = None
        self._fresh_until = 0.0
        self._early_fetch_at: float | None = None
        self._asked: dict[str, float] = {}  # unknown kid → when it last made this fetch early
        self._jwks_uri: str | None = None

    def close(self) -> None:
        self.session.close()

    def jwks(self, *, unknown_kid: str | None = None, fresh_for: float = 0) -> JSONObject:
        """The JWKS: the copy while it is fresh (for `fresh_for` seconds more, when asked), else fetched again;
        fetched at once for `unknown_kid` when the copy lacks it (see the class)."""
        with self._lock:
            now = self.clock()
            jwks = self._jwks
            if jwks is None or now + fresh_for >= self._fresh_until or self._early_for(unknown_kid, jwks, now):
                response = self._fetch()
                jwks = _json(response, "keys", list)
                self._jwks, self._fresh_until = jwks, now + _max_age(response)
            return jwks

    def _early_for(self, unknown_kid: str | None, jwks: JSONObject, now: float) -> bool:
        """Whether a kid the fresh copy does not know is fetched for now: not asked for within
        min_refresh_interval, and no early fetch within min_fetch_interval. Remembers the fetch it allows."""
        if unknown_kid is None or _has_kid(jwks, unknown_kid):
            return False
        asked = self._asked.get(unknown_kid)
        if asked is not None and now - asked < self.min_refresh_interval:
            return False
        if self._early_fetch_at is not None and now - self._early_fetch_at < self.min_fetch_interval:
            return False
        self._asked.pop(unknown_kid, None)
        while len(self._asked) >= KIDS_REMEMBERED:
            del self._asked[next(iter(self._asked))]
        self._asked[unknown_kid] = self._early_fetch_at = now
        return True

    def _fetch(self) -> requests.Response:
        if self._jwks_uri is None:
            discovery = _get(self.session, f"{self.issuer}/.well-known/openid-configuration", timeout=self.timeout)
            metadata = _json(discovery, "jwks_uri", str)
            if metadata.get("issuer") != self.issuer:
                raise RegistryError(f"Discovery names issuer {metadata.get('issuer')!r}, not {self.issuer!r}.")
            self._jwks_uri = metadata["jwks_uri"]
        return _get(self.session, self._jwks_uri, timeout=self.timeout)


class PinnedKeys:
    """The registry's JWKS as the caller pinned it (fetched from the issuer itself earlier, or handed over out of
    band): a KeySource that never asks anything, for reading a mirror where the registry cannot be reached. Pin
    the keys again at each rotation of the registry's signing key (its JWKS lists the next key ahead of time)."""

    def __init__(self, jwks: JSONObject) -> None:
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("Pin a JWKS: a JSON object with a list of keys.")
        self._jwks = jwks

    def jwks(self, *, unknown_kid: str | None = None) -> JSONObject:
        return self._jwks


def _get(
    session: requests.Session, url: str, *, timeout: float, headers: dict[str, str] | None = None
) -> requests.Response:
    """GET, with an unreachable registry (refused, timed out, a broken answer) as a RegistryError without
    a status."""
    try:
        return session.get(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise RegistryError(f"The registry cannot be reached at {url}: {type(exc).__name__}.") from None


def _has_kid(jwks: JSONObject, kid: str) -> bool:
    return any(isinstance(key, dict) and key.get("kid") == kid for key in jwks["keys"])


def _json(response: requests.Response, member: str, kind: type) -> JSONObject:
    """A registry answer's JSON object, which must be a 200 carrying `member` of type `kind`."""
    try:
        document = response.json() if response.status_code == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get(member), kind):
        raise RegistryError(
            f"Unexpected answer from {response.url}: HTTP {response.status_code}.", response.status_code
        )
    return document


def verify_registry_signature(body: bytes, signature: str, keys: KeySource) -> None:
    """The registry's detached JWS over `body`, checked with its JWKS (`keys`), fetched once more on a kid the
    copy does not know (the registry rotated); VerificationError(reason) when it does not verify."""
    try:
        verify(body, signature, keys.jwks())
    except VerificationError as first:
        if first.reason != "unknown_kid":
            raise
        verify(body, signature, keys.jwks(unknown_kid=(header_of(signature) or {}).get("kid")))


class _CacheEntry(TypedDict):
    """A participant record as last answered, with its ETag and its times on the client's clock."""

    record: JSONObject
    etag: str | None
    fresh_until: float
    loaded_at: float


class RegistryClient:
    """Participant records from the registry, cached as its Cache-Control says, revalidated with ETags,
    each answer's registry signature (x-jws-signature) verified before it is trusted. Ages are read from
    `clock`, as RegistryKeys does."""

    def __init__(
        self,
        registry_base_url: str,
        token_client: TokenClient,
        *,
        keys: RegistryKeys,
        session: requests.Session | None = None,
        timeout: float = 10,
        min_refresh_interval: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = registry_base_url.rstrip("/")
        self.token_client, self.keys = token_client, keys
        self.session = session or requests.Session()
        self.timeout, self.min_refresh_interval, self.clock = timeout, min_refresh_interval, clock
        self._lock = threading.Lock()
        self._cache: dict[str, _CacheEntry] = {}
        self.requests_made = 0

    def close(self) -> None:
        """Release pooled HTTP connections (the registry's, its keys' and the token client's)."""
        self.session.close()
        self.keys.close()
        self.token_client.close()

    def participant(self, participant_id: str, *, refresh: bool = False) -> JSONObject:
        """The participant's §5.1 record (fresh from cache, or revalidated)."""
        entry = self._cache.get(participant_id)
        if entry and not refresh and self.clock() < entry["fresh_until"]:
            return entry["record"]
        return self._load(participant_id, entry)

    def refresh_for_unknown_kid(self, participant_id: str) -> JSONObject | None:
        """Force a refresh after meeting an unknown kid, at most once per participant per interval;
        returns the record, or None when a refresh happened too recently (floods cannot hammer the registry)."""
        with self._lock:
            entry = self._cache.get(participant_id)
            if entry and self.clock() - entry["loaded_at"] < self.min_refresh_interval:
                return None
        return self._load(participant_id, entry)

    def verify_signature(self, participant_id: str, body: bytes, signature: str) -> VerifiedKey:
        """Verify a participant's detached JWS with its registry keys; on an unknown kid (the participant
        rotated), refresh its record once (rate-limited) and try again. Returns the VerifiedKey."""
        try:
            return verify(body, signature, self.participant(participant_id)["publicKeys"])
        except VerificationError as exc:
            if exc.reason != "unknown_kid":
                raise
            refreshed = self.refresh_for_unknown_kid(participant_id)
            if refreshed is None:
                raise
            return verify(body, signature, refreshed["publicKeys"])

    def get(self, path: str, *, etag: str | None = None, timeout: float | None = None) -> requests.Response:
        """GET a registry path with this participant's token (waiting `timeout` seconds, default the client's).
        A 401 means the registry no longer honours the cached token (revoked by a suspension, a signing-key
        revocation …): a new one is fetched and the request made once more."""
        response = self._get(path, etag, timeout)
        if response.status_code == 401:
            self.token_client.invalidate()
            response = self._get(path, etag, timeout)
        return response

    def _get(self, path: str, etag: str | None, timeout: float | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token_client.token()}"}
        if etag:
            headers["If-None-Match"] = etag
        self.requests_made += 1
        url = f"{self.base}/{path.lstrip('/')}"
        return _get(self.session, url, headers=headers, timeout=timeout or self.timeout)

    def verified_content(self, response: requests.Response) -> bytes:
        """The exact bytes of a registry answer, after checking the registry's signature over them."""
        signature = response.headers.get("x-jws-signature")
        if not signature:
            raise RegistryError("The registry's answer is not signed.", response.status_code)
        try:
            verify_registry_signature(response.content, signature, self.keys)
        except VerificationError as failed:
            raise RegistryError(f"The registry's signature does not verify ({failed.reason}).") from None
        return response.content

    def verified_json(self, response: requests.Response) -> JSONObject:
        """The body of a registry answer, after checking the registry's signature over its exact bytes."""
        self.verified_content(response)
        try:
            document: JSONObject = response.json()  # the registry answers a JSON object, signed
            return document
        except ValueError:
            raise RegistryError("The registry's answer is not JSON.", response.status_code) from None

    def _load(self, participant_id: str, entry: _CacheEntry | None) -> JSONObject:
        response = self.get(f"participant-roles/{participant_id}", etag=entry["etag"] if entry else None)
        now = self.clock()
        if response.status_code == 304 and entry:
            entry["fresh_until"], entry["loaded_at"] = now + _max_age(response), now
            return entry["record"]
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            body = body if isinstance(body, dict) else {}
            raise RegistryError(str(body.get("message") or f"HTTP {response.status_code}"), response.status_code, body)
        record = self.verified_json(response)
        with self._lock:
            self._cache[participant_id] = {
                "record": record,
                "etag": response.headers.get("ETag"),
                "fresh_until": now + _max_age(response),
                "loaded_at": now,
            }
        return record


def _max_age(response: requests.Response) -> int:
    """How long the answer may still be used: its Cache-Control max-age less its Age (RFC 9111 §4.2.3),
    so a copy a shared cache kept for a while is not trusted for max-age more."""
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    try:
        age = max(0, int(response.headers.get("Age", "0")))
    except ValueError:
        age = 0
    return max(0, int(match.group(1)) - age) if match else 0
