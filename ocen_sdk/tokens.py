"""Access tokens from the registry: client credentials, cached until shortly before they expire."""

import threading
import time

import jwt
import requests

from .errors import TokenError


class TokenClient:
    """Gets and caches the participant's access token; thread-safe, one request in flight at a time."""

    def __init__(
        self, token_url: str, client_id: str, client_secret: str, *, margin: int = 60, session=None, timeout: float = 10
    ):
        self.token_url, self.client_id, self._secret = token_url, client_id, client_secret
        self.margin, self.timeout = margin, timeout
        self.session = session or requests.Session()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.requests_made = 0

    def token(self) -> str:
        """A valid access token: the cached one, or a new one (only one thread fetches)."""
        with self._lock:
            if self._token is None or time.time() >= self._expires_at - self.margin:
                self._token, self._expires_at = self._fetch()
            return self._token

    def close(self) -> None:
        """Release pooled HTTP connections."""
        self.session.close()

    def invalidate(self) -> None:
        with self._lock:
            self._token, self._expires_at = None, 0.0

    def _fetch(self) -> tuple[str, float]:
        self.requests_made += 1
        try:
            response = self.session.post(
                self.token_url,
                data={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret},
                timeout=self.timeout,
            )
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
