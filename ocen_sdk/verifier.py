"""What a provider does with every incoming OCEN request (contract §1, §6)."""

from __future__ import annotations

import json

import jwt

from .errors import RegistryError, VerificationError
from .registry import SIGNATURE_HEADERS, RegistryClient, RegistryKeys


class Verifier:
    """Checks a caller's token (registry JWKS via discovery) and body signature (caller's keys from the registry)."""

    def __init__(self, issuer: str, registry_client: RegistryClient, *, audience: str = "ocen", leeway: int = 30,
                 keys: RegistryKeys | None = None):  # fmt: skip
        self.issuer, self.audience, self.leeway = issuer.rstrip("/"), audience, leeway
        self.registry = registry_client
        self.keys = keys or registry_client.keys

    def verify_request(self, headers, body: bytes) -> dict:
        """The caller's participant record if the request is genuine; else VerificationError(reason)."""
        claims = self.verify_token(_header(headers, "Authorization"))
        participant_id = claims["participantId"]
        try:
            record = self.registry.participant(participant_id)
        except RegistryError as exc:
            raise VerificationError("participant_not_active", f"The registry has no usable record: {exc}") from None
        if record.get("status") != "ACTIVE" or record.get("participantRoleStatus") != "APPROVED":
            raise VerificationError("participant_not_active", f"{participant_id} is {record.get('status')}.")
        signature = next((_header(headers, name) for name in SIGNATURE_HEADERS if _header(headers, name)), None)
        if not signature:
            raise VerificationError("signature_missing", "No x-jws-signature (or Signature) header.")
        self.registry.verify_signature(participant_id, body, signature)
        originator = _originator(body)
        if originator is not None and originator != participant_id:
            raise VerificationError(
                "originator_mismatch",
                f"metadata.originatorParticipantId {originator!r} is not the token's {participant_id!r}.",
            )
        return record

    def verify_token(self, authorization: str | None) -> dict:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VerificationError("token_missing", "No bearer token.")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise VerificationError("token_invalid", "The token is not a JWT.") from None
        jwks = self.keys.jwks()
        if not any(k.get("kid") == kid for k in jwks.get("keys", [])):
            jwks = self.keys.jwks(unknown_kid=kid)
        key = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
        if key is None:
            raise VerificationError("unknown_kid", f"The registry publishes no key {kid!r}.")
        try:
            claims = jwt.decode(
                token, jwt.PyJWK.from_dict(key).key, algorithms=["RS256"], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise VerificationError("token_expired", "The token has expired.") from None
        except jwt.PyJWTError as exc:
            raise VerificationError("token_invalid", str(exc)) from None
        if not claims.get("participantId"):
            raise VerificationError("token_invalid", "The token carries no participantId.")
        return claims


def _header(headers, name: str):
    if hasattr(headers, "get"):
        value = headers.get(name)
        if value is None:
            lowered = {k.lower(): v for k, v in headers.items()}
            value = lowered.get(name.lower())
        return value
    return None


def _originator(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    value = metadata.get("originatorParticipantId") if isinstance(metadata, dict) else None
    return str(value) if value is not None else None
