"""
Abuse limits with counters in the shared cache (Redis through REDIS_URL; local memory when unset).

Client authentication (token, introspection, revocation): failures are counted per source — the
caller's address as the trusted proxies report it, IPv6 by /64 — and per source and client ID. From the
OCEN_TOKEN_FAILURE_LIMIT-th failure for one client ID from one source, or the
OCEN_TOKEN_ADDRESS_FAILURE_LIMIT-th from one source for any, that source's failures are answered 429
with Retry-After (OCEN_TOKEN_LOCKOUT_SECONDS) instead of 401: a signal to back off. The right
credentials are never refused: client IDs are public, and client secrets are 256-bit random values
that no number of guesses finds, so a throttle that locked the correct secret out would only let
anyone shut a participant out (from anywhere, or from its own NAT address by a stale sibling
service). Failures per client ID across all sources are a signal too: crossing
OCEN_TOKEN_FAILURE_LIMIT writes one audit event on the participant.

Memory is bounded by the number of failing sources, not their rate: a source past its limit adds no
counter. A grant costs one cache read (one MGET); writes happen only after a failure. Volume floods
are for the proxy's per-address rate limit (docs/deployment.md).

Registry API: at most OCEN_SERVICE_RATE_PER_MINUTE requests per participant per minute (fixed window:
one cache operation per request, one round trip on Redis, whatever the rate).
"""

import functools
import hashlib
import time

import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from participants.models import AuditAction, Participant
from participants.remote import client_address, source_network
from participants.services import Actor, audit


def _key(kind: str, *parts: str) -> str:
    return f"ocen:{kind}:{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:32]}"


def source_of(request) -> str:
    """The caller's address as a throttling source: IPv4 as is, IPv6 by its /64 (one host's prefix)."""
    address = client_address(request) or "unknown"
    network = source_network(address)  # the console's lockout counts by the same rule
    if network is None:
        return address
    return str(network.network_address) if network.version == 4 else str(network)


class ClientAuthenticationThrottle:
    """What the shared cache knows of one source's recent failures, for one client ID, read in one
    cache operation; written only after a failure (or a success that clears earlier ones)."""

    def __init__(self, request, client_id: str | None):
        self.source, self.client_id = source_of(request), client_id or ""
        self.remote_addr = client_address(request)
        self.source_lock, self.source_failures = _key("authlock", self.source), _key("authfail", self.source)
        self.pair_lock = _key("authlock", self.source, self.client_id)
        self.pair_failures = _key("authfail", self.source, self.client_id)
        known = cache.get_many([self.source_lock, self.pair_lock, self.pair_failures])
        self.source_locked_until = known.get(self.source_lock, 0)
        self.locked_until = max(self.source_locked_until, known.get(self.pair_lock, 0))
        self.had_failures = self.pair_failures in known or self.pair_lock in known

    def retry_after(self) -> int:
        """Seconds this source should wait before failing again with this client; 0 when it has not
        reached a limit."""
        return max(0, int(self.locked_until - time.time()) + 1) if self.locked_until else 0

    def failed(self) -> int:
        """Count a failed authentication; returns retry_after() (a failure past a limit is answered 429).
        A source past its own limit adds no counter, so a flood from it costs no memory."""
        window, now = settings.OCEN_TOKEN_LOCKOUT_SECONDS, time.time()
        if self.source_locked_until > now:
            return self.retry_after()
        if _count(self.source_failures, window) >= settings.OCEN_TOKEN_ADDRESS_FAILURE_LIMIT:
            cache.set(self.source_lock, now + window, window)
            self.locked_until = now + window
        if self.client_id:
            if _count(self.pair_failures, window) >= settings.OCEN_TOKEN_FAILURE_LIMIT:
                cache.set(self.pair_lock, now + window, window)
                self.locked_until = max(self.locked_until, now + window)
            if _count(_key("clientfail", self.client_id), window) == settings.OCEN_TOKEN_FAILURE_LIMIT:
                self._signal()
        return self.retry_after()

    def succeeded(self) -> None:
        """The right secret from this source: its failures for this client are forgotten (a service still
        on a stale secret, behind the same address, no longer holds the updated ones back)."""
        if self.had_failures:  # most grants have none to clear, and skip the cache write
            cache.delete_many([self.pair_failures, self.pair_lock])

    def _signal(self) -> None:
        """A participant's client ID is failing authentication a lot, from anywhere: tell its operators."""
        participant = Participant.objects.filter(client_id=self.client_id).select_related("organisation").first()
        if participant is not None:
            audit(
                Actor(label=f"anonymous@{self.remote_addr or '?'}", remote_addr=self.remote_addr),
                AuditAction.CLIENT_AUTHENTICATION_FAILURES,
                participant=participant,
                clientId=self.client_id,
                failures=settings.OCEN_TOKEN_FAILURE_LIMIT,
                withinSeconds=settings.OCEN_TOKEN_LOCKOUT_SECONDS,
                lastSource=self.source,
            )


@functools.cache
def _redis(location: str) -> redis.Redis:
    """A redis-py client of the shared cache's server (the first, where several are named), for the pipeline
    Django's cache API lacks; redis-py keeps its own connection pool, one per process."""
    return redis.Redis.from_url(location.split(",")[0] if isinstance(location, str) else location[0])


def _count(key: str, ttl: int) -> int:
    """Add one to a counter that lives `ttl` seconds and return it. On Redis, INCR and EXPIRE go out
    together (one round trip; Django's RedisCache.incr is an EXISTS and an INCR), so the counter lives
    `ttl` seconds from its latest increment. Elsewhere, the cache API: it lives `ttl` from its first."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        pipeline = _redis(settings.CACHES["default"]["LOCATION"]).pipeline(transaction=False)
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
