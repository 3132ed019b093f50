"""
What an authapi process keeps between requests: one object, one reset.

Nothing here is a copy of something an administrator can change. Each entry is either derived from
bytes that never change under its key (a key pair parsed from its row, keyed by its RFC 7638
thumbprint), or keyed by the database's own answer to "has this changed?", read on every request
(a rendering, keyed by the participant's change stamp and the signing kid the request's statement
found active). docs/decisions.md ("What a server process keeps") says why each cannot go stale.
"""

import datetime as dt
import time

from cryptography.hazmat.primitives.asymmetric import rsa

RENDERINGS_MAX = 4096


class ProcessMemory:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Forget everything (tests, whose databases roll back under the process)."""
        self.private_keys: dict[str, rsa.RSAPrivateKey] = {}
        self.public_keys: dict[str, rsa.RSAPublicKey] = {}
        # The latest reading of the active kid: which key to try first when signing a token. A hint only,
        # never trusted: the token's INSERT checks that the key is still active (authapi/compiled.py).
        self.active_kid_hint: str | None = None
        # (kind, participant id, change stamp, signing kid) -> (monotonic expiry, (body, ETag, signature,
        # next primary-key switch)).
        self.renderings: dict[tuple, tuple[float, tuple[bytes, str, str, dt.datetime | None]]] = {}

    def rendering(self, key: tuple, now: dt.datetime):
        """The rendering kept under `key`, unless it has expired or a primary-key switch it knows of has come."""
        entry = self.renderings.get(key)
        if entry is None or entry[0] < time.monotonic() or (entry[1][3] and entry[1][3] <= now):
            return None
        return entry[1]

    def keep_rendering(self, key: tuple, rendering: tuple, max_age: int) -> None:
        if len(self.renderings) >= RENDERINGS_MAX:  # bounded: cleared when full
            self.renderings.clear()
        self.renderings[key] = (time.monotonic() + max_age, rendering)


memory = ProcessMemory()
