"""Exceptions of the OCEN participant toolkit."""

from typing import Any


class OcenError(Exception):
    """Base of every toolkit error."""


class TokenError(OcenError):
    """The token endpoint refused: carries the server's `error` and `error_description`."""

    def __init__(self, error: str, description: str = "", status: int | None = None):
        super().__init__(f"{error}: {description}" if description else error)
        self.error, self.description, self.status = error, description, status


class RegistryError(OcenError):
    """The registry answered with an error (its §5 body in `body`), or its answer failed verification."""

    def __init__(self, message: str, status: int | None = None, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.body = status, body or {}


class VerificationError(OcenError):
    """A request or response did not verify. `reason` is machine-readable: token_missing, token_invalid,
    token_expired, token_revoked (issued before its participant's reinstatement), unknown_kid, signature_missing,
    malformed_signature, algorithm_not_allowed, signature_mismatch, key_revoked, key_expired, key_withheld,
    participant_not_active, originator_mismatch, registry_unavailable (the registry's keys could not be read),
    malformed_body (not bytes); for webhook events, subscription_mismatch (another subscription's event) and
    event_stale (occurred too long ago)."""

    def __init__(self, reason: str, message: str = ""):
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason, self.message = reason, message
