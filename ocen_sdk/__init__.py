"""
OCEN participant toolkit: tokens, detached-JWS signing and verification, a registry client, a local mirror
of the registry, the check of the registry's webhook deliveries, and the checks a provider makes on every
request. No Django; built on `cryptography`,
jwcrypto, PyJWT and requests.

    from ocen_sdk import TokenClient, RegistryKeys, RegistryClient, RegistryMirror, Verifier, sign, verify
"""

from .errors import OcenError, RegistryError, TokenError, VerificationError
from .jws import Diagnosis, VerifiedKey, diagnose, sign, verify
from .mirror import RegistryMirror
from .registry import PinnedKeys, RegistryClient, RegistryKeys, primary_kid
from .tokens import TokenClient
from .verifier import Verifier
from .webhooks import verify_event

__all__ = [
    "Diagnosis",
    "OcenError",
    "PinnedKeys",
    "RegistryClient",
    "RegistryError",
    "RegistryKeys",
    "RegistryMirror",
    "TokenClient",
    "TokenError",
    "VerificationError",
    "VerifiedKey",
    "Verifier",
    "diagnose",
    "primary_kid",
    "sign",
    "verify",
    "verify_event",
]
