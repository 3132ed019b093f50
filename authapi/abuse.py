"""
Abuse limits with counters in the shared cache (Redis through REDIS_URL; local memory when unset).

Client authentication (token, introspection, revocation): failures are counted per source — the
caller's address as the trusted proxies report it, IPv6 by /64 — and per source and client ID. At
OCEN_TOKEN_ADDRESS_FAILURE_LIMIT failures a source is refused (429, Retry-After) for
OCEN_TOKEN_LOCKOUT_SECONDS, whatever client it names; at OCEN_TOKEN_FAILURE_LIMIT failures for one
client ID, that source is refused for that client. Client IDs are public (every participant reads
them in registry records), so nothing one source does ever refuses another source: a participant's
correct secret from its own address always works. Failures per client ID across all sources are a
signal, not a lock: crossing OCEN_TOKEN_FAILURE_LIMIT writes one audit event on the participant.

Memory is bounded by the number of failing sources, not their rate: a source is refused before any
new counter is written once it reaches its limit. A grant costs one cache read (one MGET); writes
happen only after a failure.

Registry API: at most OCEN_SERVICE_RATE_PER_MINUTE requests per participant per minute (fixed window:
one cache operation per request, one round trip on Redis, whatever the rate).
"""

import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from participants.models import Participant
from participants.remote import client_address
from participants.services import Actor, audit


def _key(kind: str, *parts: str) -> str:
    return f"ocen:{kind}:{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:32]}"


def source_of(request) -> str:
    """The caller's address as a throttling source: IPv4 as is, IPv6 by its /64 (one host's prefix)."""
    address = client_address(request) or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class ClientAuthenticationThrottle:
    """What the shared cache knows of one source's recent failures, for one client ID, read in one
    cache operation before the client is authenticated."""

    def __init__(self, request, client_id: str | None):
        self.source, self.client_id = source_of(request), client_id or ""
        self.remote_addr = client_address(request)
        self.source_lock, self.source_failures = _key("authlock", self.source), _key("authfail", self.source)
        self.pair_lock = _key("authlock", self.source, self.client_id)
        self.pair_failures = _key("authfail", self.source, self.client_id)
        known = cache.get_many([self.source_lock, self.pair_lock, self.pair_failures])
        self.locked_until = max(known.get(self.source_lock, 0), known.get(self.pair_lock, 0))
        self.had_failures = self.pair_failures in known

    def retry_after(self) -> int:
        """Seconds this source must wait before it may try (this client) again; 0 when it may."""
        return max(0, int(self.locked_until - time.time()) + 1) if self.locked_until else 0

    def failed(self) -> None:
        window = settings.OCEN_TOKEN_LOCKOUT_SECONDS
        if _count(self.source_failures, window) >= settings.OCEN_TOKEN_ADDRESS_FAILURE_LIMIT:
            cache.set(self.source_lock, time.time() + window, window)
        if not self.client_id:
            return
        if _count(self.pair_failures, window) >= settings.OCEN_TOKEN_FAILURE_LIMIT:
            cache.set(self.pair_lock, time.time() + window, window)
            cache.delete(self.pair_failures)
        if _count(_key("clientfail", self.client_id), window) == settings.OCEN_TOKEN_FAILURE_LIMIT:
            self._signal()

    def succeeded(self) -> None:
        if self.had_failures:  # most grants have none to clear, and skip the cache write
            cache.delete(self.pair_failures)

    def _signal(self) -> None:
        """A participant's client ID is failing authentication a lot, from anywhere: tell its operators."""
        participant = Participant.objects.filter(client_id=self.client_id).select_related("organisation").first()
        if participant is not None:
            audit(
                Actor(label=f"anonymous@{self.remote_addr or '?'}", remote_addr=self.remote_addr),
                "client.authentication_failures",
                participant=participant,
                clientId=self.client_id,
                failures=settings.OCEN_TOKEN_FAILURE_LIMIT,
                withinSeconds=settings.OCEN_TOKEN_LOCKOUT_SECONDS,
                lastSource=self.source,
            )


def _count(key: str, ttl: int) -> int:
    """Add one to a counter that lives `ttl` seconds and return it. On Redis, INCR and EXPIRE go out
    together (one round trip; Django's RedisCache.incr is an EXISTS and an INCR), so the counter lives
    `ttl` seconds from its latest increment. Elsewhere, the cache API: it lives `ttl` from its first."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        pipeline = backend._cache.get_client(name, write=True).pipeline(transaction=False)
        count, _ = pipeline.incr(name).expire(name, ttl).execute()
        return count
    try:
        return backend.incr(key)
    except ValueError:
        return 1 if backend.add(key, 1, ttl) else backend.incr(key)


class ParticipantRateThrottle(BaseThrottle):
    """At most OCEN_SERVICE_RATE_PER_MINUTE registry requests per participant per minute."""

    def allow_request(self, request, view):
        if request.auth is None:
            return True
        window = int(time.time() // 60)
        count = _count(f"ocen:rate:{request.auth.participant_id}:{window}", 120)
        self._wait = 60 - time.time() % 60
        return count <= settings.OCEN_SERVICE_RATE_PER_MINUTE

    def wait(self):
        return self._wait
