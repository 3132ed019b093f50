"""
OCEN participant toolkit: tokens, detached-JWS signing and verification, a registry client, and the
checks a provider makes on every request. No Django; built on `cryptography`, jwcrypto, PyJWT and requests.

    from ocen_sdk import TokenClient, RegistryKeys, RegistryClient, Verifier, sign, verify
"""

from .errors import OcenError, RegistryError, TokenError, VerificationError
from .jws import Diagnosis, VerifiedKey, diagnose, sign, verify
from .registry import RegistryClient, RegistryKeys, primary_kid
from .tokens import TokenClient
from .verifier import Verifier

__all__ = [
    "Diagnosis",
    "OcenError",
    "RegistryClient",
    "RegistryError",
    "RegistryKeys",
    "TokenClient",
    "TokenError",
    "VerificationError",
    "VerifiedKey",
    "Verifier",
    "diagnose",
    "primary_kid",
    "sign",
    "verify",
]
