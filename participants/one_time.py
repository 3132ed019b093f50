"""
Show-once credentials for the admin: the client secret travels from the POST that created it
to the page that shows it inside the administrator's session, encrypted (Fernet, key derived
from SECRET_KEY), and is removed from the session when the page renders. Nothing else keeps it.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SESSION_KEY = "ocen_one_time_credentials"


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"ocen-one-time-credentials:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def stash(request, credentials: list, key: str = SESSION_KEY) -> None:
    request.session[key] = _fernet().encrypt(json.dumps(credentials).encode()).decode()


def take(request, key: str = SESSION_KEY) -> list:
    """Return the stashed credentials once; later calls return an empty list."""
    token = request.session.pop(key, None)
    if not token:
        return []
    try:
        return json.loads(_fernet().decrypt(token.encode(), ttl=3600))
    except (InvalidToken, ValueError):
        return []
