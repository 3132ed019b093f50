"""
private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the client proves who it
is with a short-lived JWT signed by one of its registered keys, instead of a shared secret.

The assertion must be signed (RS256, or ES256 for a P-256 key) by a key of the client's participant
that a verifier would accept now (`ParticipantKey.unusable_at`: not revoked, not withheld, inside its
validity), name the client as `iss` and `sub`, name this registry (its issuer or token endpoint) in
`aud`, expire at most MAX_LIFETIME seconds ahead, and carry a `jti` never seen before: each `jti` is
kept in the shared cache until its assertion expires, so a replay fails on every server.

The JWS is parsed once (`ocen_sdk.jws.compact_jwt`, strict base64url) and its signature checked with
PyJWT's RS256/ES256 over the parsed key, as the toolkit's Verifier does; the claims are checked here,
each rule of RFC 7523 §3 in `_claims_hold`. (PyJWT's `jwt.decode` validates base64 with a Python loop
over every character, which costs more than the RSA verification.)
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from ocen_sdk.jws import ALLOWED_ALGORITHMS, compact_jwt, public_key_of, signature_verifies
from participants.services import CLIENT_ID_RE

from . import compiled
from .paths import KEYCLOAK_ALIASES

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 300  # seconds an assertion may be valid for, from now
MAX_JTI = 256


def accepted_audiences() -> list[str]:
    """What `aud` may name: the issuer, or the token endpoint (at the issuer or its Keycloak alias)."""
    issuer = settings.OCEN_ISSUER
    return [issuer, f"{issuer}/token", f"{issuer}/{KEYCLOAK_ALIASES['token']}"]


def signing_algorithms() -> list[str]:
    """The algorithms an assertion may be signed with: those of the key types the registry accepts."""
    return [alg for alg, kty in ALLOWED_ALGORITHMS.items() if kty in settings.OCEN_PARTICIPANT_KEY_TYPES]


def client_id_of(assertion: str) -> str | None:
    """The client an assertion says it comes from (`sub`, unverified): what the failure throttle counts.
    None unless it could be a client ID at all (printable ASCII, CLIENT_ID_RE)."""
    parsed = compact_jwt(assertion)
    subject = parsed[1].get("sub") if parsed is not None and isinstance(parsed[1], dict) else None
    return subject if isinstance(subject, str) and CLIENT_ID_RE.fullmatch(subject) else None


def authenticate(request, assertion_type, assertion) -> bool:
    """Whether the request's client assertion authenticates `request.client_id` (a client whose participant
    may authenticate), which it then sets as `request.client`. A True answer uses up the assertion's `jti`."""
    parsed = compact_jwt(assertion) if assertion_type == ASSERTION_TYPE else None
    if parsed is None or not _header_holds(parsed[0]):
        return False
    header, claims, signing_input, signature = parsed
    client, keys = compiled.client_with_keys(request.client_id, header["alg"])
    if client is None or not _signed_by_one_of(keys, header, signing_input, signature):
        return False
    if not (isinstance(claims, dict) and _claims_hold(client.client_id, claims)):
        return False
    request.client = client
    return _first_use(client.client_id, claims)


def _signed_by_one_of(keys, header: dict, signing_input: bytes, signature: bytes) -> bool:
    """Whether a key a verifier would accept now (ParticipantKey.unusable_at) signed it; only the header's
    `kid` when it names one."""
    alg, kid, now = header["alg"], header.get("kid"), timezone.now()
    for key in keys:
        if (kid is not None and key.kid != kid) or key.unusable_at(now):
            continue
        public_key = public_key_of(alg, key.jwk)
        if public_key is not None and signature_verifies(alg, public_key, signing_input, signature):
            return True
    return False


def _header_holds(header: dict) -> bool:
    """An algorithm the registry's key types sign with (never `none` or an HMAC), no `crit`, a string kid."""
    kid = header.get("kid")
    return header.get("alg") in signing_algorithms() and "crit" not in header and (kid is None or isinstance(kid, str))


def _claims_hold(client_id: str, claims: dict) -> bool:
    """RFC 7523 §3, each rule a step: the client is `iss` and `sub`, this registry is in `aud`, the times
    hold, and `jti` is a short string."""
    jti = claims.get("jti")
    return (
        claims.get("iss") == client_id
        and claims.get("sub") == client_id
        and _names_this_registry(claims.get("aud"))
        and _times_hold(claims)
        and isinstance(jti, str)
        and 0 < len(jti) <= MAX_JTI
    )


def _names_this_registry(audience) -> bool:
    """`aud` is this registry: one accepted value, or a list of nothing else (no audience injection)."""
    named = audience if isinstance(audience, list) else [audience]
    return bool(named) and all(isinstance(name, str) and name in accepted_audiences() for name in named)


def _times_hold(claims: dict) -> bool:
    """`exp` a number, not past (with OCEN_CLOCK_LEEWAY of skew) and at most MAX_LIFETIME ahead; `nbf` and
    `iat`, when present, numbers not in the future (with the leeway)."""
    now, leeway = time.time(), settings.OCEN_CLOCK_LEEWAY
    expires, not_before, issued = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if not _is_number(expires) or not all(t is None or _is_number(t) for t in (not_before, issued)):
        return False
    return now - leeway < expires <= now + MAX_LIFETIME and all(
        t is None or t <= now + leeway for t in (not_before, issued)
    )


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _first_use(client_id: str, claims: dict) -> bool:
    """Record the assertion's `jti` for this client until the assertion expires; False if it was seen."""
    digest = hashlib.sha256(f"{client_id}\x00{claims['jti']}".encode("utf-8", "surrogatepass")).hexdigest()
    # Kept at least as long as the assertion is accepted (until exp + leeway, exp at most MAX_LIFETIME
    # ahead), rounded up: the cache counts whole seconds.
    ttl = MAX_LIFETIME + settings.OCEN_CLOCK_LEEWAY + 2
    return cache.add(f"ocen:jti:{digest}", 1, timeout=ttl)
