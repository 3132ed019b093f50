"""
Abuse limits with counters in the shared cache (Redis through REDIS_URL; local memory when unset):

- token endpoint: after OCEN_TOKEN_FAILURE_LIMIT failed client authentications for one client ID
  within OCEN_TOKEN_LOCKOUT_SECONDS, that client ID is locked out for that long — 429 with
  Retry-After and one body whatever the cause, so the answer reveals nothing about the client (one
  cache read per grant; writes only after a failure);
- registry API: at most OCEN_SERVICE_RATE_PER_MINUTE requests per participant per minute (fixed
  window: one cache operation per request, one round trip on Redis, whatever the rate).
"""

import base64
import hashlib
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle


def _key(kind: str, value: str) -> str:
    return f"ocen:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def requested_client_id(request) -> str | None:
    """The client ID a token request names (body or HTTP Basic), before it is authenticated."""
    client_id = request.oauth_params.get("client_id")
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not client_id and scheme.lower() == "basic":
        try:
            client_id = base64.b64decode(credentials).decode("utf-8").partition(":")[0]
        except ValueError:
            client_id = None
    return client_id or None


class ClientAttempts:
    """What the shared cache knows of one client ID's recent failures, read in one cache operation."""

    def __init__(self, client_id: str):
        self.lock_key, self.failure_key = _key("tokenlock", client_id), _key("tokenfail", client_id)
        known = cache.get_many([self.lock_key, self.failure_key])
        self.locked_until, self.had_failures = known.get(self.lock_key), self.failure_key in known

    def lockout_remaining(self) -> int:
        """Seconds left on a lockout of this client ID (0 when it may try)."""
        return max(0, int(self.locked_until - time.time()) + 1) if self.locked_until else 0

    def record_failure(self) -> None:
        window = settings.OCEN_TOKEN_LOCKOUT_SECONDS
        cache.add(self.failure_key, 0, window)
        try:
            failures = cache.incr(self.failure_key)
        except ValueError:  # expired between add and incr
            cache.set(self.failure_key, failures := 1, window)
        if failures >= settings.OCEN_TOKEN_FAILURE_LIMIT:
            cache.set(self.lock_key, time.time() + window, window)
            cache.delete(self.failure_key)

    def record_success(self) -> None:
        if self.had_failures:  # most grants have none to clear, and skip the cache write
            cache.delete(self.failure_key)


def _count(key: str, ttl: int) -> int:
    """Add one to a counter that lives `ttl` seconds and return it. On Redis, INCR and EXPIRE go out
    together: one round trip (Django's RedisCache.incr is an EXISTS and an INCR). Elsewhere, the cache
    API: one operation on every call but a window's first."""
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
