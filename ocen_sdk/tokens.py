"""Access tokens from the registry: client credentials (a secret, or private_key_jwt), cached until shortly
before they expire."""

import threading
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .errors import TokenError


class TokenClient:
    """Gets and caches the participant's access tokens, one per audience; thread-safe, one request in
    flight at a time.

    The client authenticates with its secret (client_secret_post), or, given `private_key` (PEM, bytes or
    str) instead, with private_key_jwt: a fresh assertion signed by that key (RS256 for RSA, ES256 for
    P-256) for each request; `kid` names the registered key (without it the registry tries each of the
    participant's usable keys)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        private_key: bytes | str | None = None,
        kid: str | None = None,
        margin: int = 60,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        # The client's credential: its secret (client_secret_post), or the signer of its assertions (private_key_jwt).
        self._credential: str | _AssertionSigner
        if client_secret is not None and private_key is None:
            self._credential = client_secret
        elif private_key is not None and client_secret is None:
            self._credential = _AssertionSigner(private_key, kid)
        else:
            raise ValueError("Give either client_secret or private_key (private_key_jwt), not both.")
        self.token_url, self.client_id = token_url, client_id
        self.margin, self.timeout = margin, timeout
        self.session = session or requests.Session()
        self._lock = threading.Lock()
        self._tokens: dict[str | None, tuple[str, float]] = {}
        self.requests_made = 0

    def token(self, audience: str | None = None) -> str:
        """A valid access token, for `audience` (a provider's participantId: RFC 8707, the token's `aud`)
        or for the shared audience: the cached one, or a new one (only one thread fetches)."""
        with self._lock:
            cached = self._tokens.get(audience)
            if cached is None or time.time() >= cached[1] - self.margin:
                cached = self._tokens[audience] = self._fetch(audience)
            return cached[0]

    def close(self) -> None:
        """Release pooled HTTP connections."""
        self.session.close()

    def invalidate(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _credentials(self) -> dict[str, str]:
        if isinstance(self._credential, str):
            return {"client_id": self.client_id, "client_secret": self._credential}
        return {
            "client_id": self.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self._credential.assertion(self.client_id, self.token_url),
        }

    def _fetch(self, audience: str | None) -> tuple[str, float]:
        self.requests_made += 1
        data = {"grant_type": "client_credentials", **self._credentials()}
        if audience is not None:
            data["audience"] = audience
        try:
            response = self.session.post(self.token_url, data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TokenError("unreachable", f"{self.token_url}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if response.status_code != 200 or "access_token" not in body:
            raise TokenError(
                body.get("error", f"http_{response.status_code}"),
                body.get("error_description", ""),
                response.status_code,
            )
        token = body["access_token"]
        try:
            expires_at = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            expires_at = time.time() + float(body.get("expires_in", 60))
        return token, expires_at


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds; the registry accepts at most 300


class _AssertionSigner:
    """RFC 7523 client assertions signed with the participant's private key."""

    def __init__(self, private_key: bytes | str, kid: str | None) -> None:
        pem = private_key.encode() if isinstance(private_key, str) else private_key
        key = load_pem_private_key(pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
            self.alg = "ES256"
        else:
            raise ValueError("private_key must be an RSA or P-256 key (PEM).")
        self._key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = key
        self.kid = kid  # without one, the registry tries each of the participant's usable keys

    def assertion(self, client_id: str, audience: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=self.alg, headers={"kid": self.kid} if self.kid else None)
