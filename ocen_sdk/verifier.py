"""What a provider does with every incoming OCEN request (contract §1, §6)."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable
from typing import Protocol

from .errors import RegistryError, TokenError, VerificationError
from .jws import JSONObject, PublicKey, VerifiedKey, _parse_instant, compact_jwt, public_key_of, signature_verifies
from .registry import SIGNATURE_HEADERS, KeySource


class Headers(Protocol):
    """A request's headers as a mapping of name to value: a dict, requests' CaseInsensitiveDict, Django's
    request.headers, Werkzeug's Headers. A name is found as written, else case-insensitively."""

    def get(self, name: str, /) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class ParticipantSource(Protocol):
    """Where a Verifier reads callers' records and keys, and the registry's keys: a RegistryClient, or a
    RegistryMirror (no registry request)."""

    @property
    def keys(self) -> KeySource: ...

    def participant(self, participant_id: str) -> JSONObject: ...

    def verify_signature(self, participant_id: str, body: bytes, signature: str) -> VerifiedKey: ...


class Verifier:
    """Checks a caller's token (registry JWKS via discovery) and body signature (caller's keys from the registry).

    `participant_id` is this provider's own: a token bound to it (`aud` = that ID, RFC 8707) is accepted, one
    bound to another provider never is. A token with the shared `audience` (what reference clients get) is
    accepted while `accept_shared_audience` is True; turn it off once every caller binds its tokens."""

    def __init__(
        self,
        issuer: str,
        registry_client: ParticipantSource,
        *,
        audience: str = "ocen",
        participant_id: str | None = None,
        accept_shared_audience: bool = True,
        leeway: int = 30,
        keys: KeySource | None = None,
    ):
        if participant_id is None and not accept_shared_audience:
            raise ValueError("accept_shared_audience=False needs this provider's participant_id.")
        self.issuer, self.leeway = issuer.rstrip("/"), leeway
        self.audiences = {
            *([_canonical_id(participant_id)] if participant_id else []),
            *([audience] if accept_shared_audience else []),
        }
        self.registry = registry_client
        self.keys = keys or registry_client.keys

    def verify_request(self, headers: Headers, body: bytes) -> JSONObject:
        """The caller's participant record if the request is genuine; else VerificationError(reason)."""
        claims = self._token_claims(_header(headers, "Authorization"))
        participant_id = claims["participantId"]
        record = self._caller_record(claims)
        self._check_body_signature(participant_id, body, _signature_of(headers))
        originator = _originator(body)
        if originator is not None and originator != participant_id:
            raise VerificationError(
                "originator_mismatch",
                f"metadata.originatorParticipantId {originator!r} is not the token's {participant_id!r}.",
            )
        return record

    def _active_record(self, participant_id: str) -> JSONObject:
        """The caller's record from the registry, which must show it approved and active."""
        try:
            record = self.registry.participant(participant_id)
        except RegistryError as exc:
            if exc.status == 404:  # no such participant: nobody the registry vouches for
                raise VerificationError("participant_not_active", f"The registry has no record: {exc}") from None
            # Unreachable, failing or unverifiable: an outage, not a verdict on the caller.
            raise VerificationError("registry_unavailable", f"The registry's record could not be read: {exc}") from None
        except TokenError as exc:  # this provider's own credentials are refused: it cannot ask the registry
            raise VerificationError(
                "registry_unavailable", f"The registry refused this provider's token: {exc}"
            ) from None
        if record.get("status") != "ACTIVE" or record.get("participantRoleStatus") != "APPROVED":
            raise VerificationError("participant_not_active", f"{participant_id} is {record.get('status')}.")
        return record

    def _check_body_signature(self, participant_id: str, body: bytes, signature: str) -> None:
        try:
            self.registry.verify_signature(participant_id, body, signature)
        except (RegistryError, TokenError) as exc:  # refreshing the caller's keys failed
            raise VerificationError("registry_unavailable", str(exc)) from None

    def _caller_record(self, claims: JSONObject) -> JSONObject:
        """The record of the token's participant, which must show it approved and active, and the token issued
        no earlier than the record's tokensValidFrom (its last reinstatement: the suspension revoked every token
        issued before it, and the registry refuses them since)."""
        record = self._active_record(claims["participantId"])
        valid_from = record.get("tokensValidFrom")
        if valid_from is not None and _issued_before(claims.get("iat"), valid_from):
            raise VerificationError(
                "token_revoked",
                f"The token was issued before {claims['participantId']} was reinstated ({valid_from}).",
            )
        return record

    def verify_token(self, authorization: str | None) -> JSONObject:
        """The claims of the caller's registry token: RS256 by a key the registry publishes, with `iss`,
        `aud`, `exp`, `sub` and `participantId`, inside its validity (with `leeway` seconds of skew), of a
        participant the registry shows approved and active, issued no earlier than its record's tokensValidFrom
        (a token from before a suspension stays refused after the reinstatement, as the registry refuses it).

        The signature is checked with PyJWT's RS256 over a key parsed once per process; the claim
        checks are PyJWT's rules, made here so that each request pays for them only once."""
        claims = self._token_claims(authorization)
        self._caller_record(claims)
        return claims

    def _token_claims(self, authorization: str | None) -> JSONObject:
        """verify_token's checks of the token itself (no record read)."""
        scheme, _, token = (authorization if isinstance(authorization, str) else "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise VerificationError("token_missing", "No bearer token.")
        parsed = compact_jwt(token)
        if parsed is None:
            raise VerificationError("token_invalid", "The token is not a JWT.")
        header, claims, signing_input, signature = parsed
        if header.get("alg") != "RS256":
            raise VerificationError("token_invalid", f"The token's alg {header.get('alg')!r} is not RS256.")
        public = self._registry_key(header.get("kid"))
        if not signature_verifies("RS256", public, signing_input, signature):
            raise VerificationError("token_invalid", "Signature verification failed.")
        if not isinstance(claims, dict):
            raise VerificationError("token_invalid", "The token's payload is not a JSON object.")
        self._check_claims(claims)
        return claims

    def _registry_key(self, kid: str | None) -> PublicKey:
        try:
            jwks = self.keys.jwks()
            if not any(k.get("kid") == kid for k in jwks.get("keys", [])):
                jwks = self.keys.jwks(unknown_kid=kid)
        except RegistryError as exc:
            raise VerificationError("registry_unavailable", f"The registry's keys could not be read: {exc}") from None
        key = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
        public = public_key_of("RS256", key) if key is not None else None
        if public is None:
            raise VerificationError("unknown_kid", f"The registry publishes no key {kid!r}.")
        return public

    def _check_claims(self, claims: JSONObject) -> None:
        missing = [name for name in ("exp", "iss", "aud", "sub") if name not in claims]
        if missing:
            raise VerificationError("token_invalid", f'Token is missing the "{missing[0]}" claim')
        self._check_times(claims)
        if claims["iss"] != self.issuer:
            raise VerificationError("token_invalid", "Invalid issuer")
        self._check_audience(claims["aud"])
        if not isinstance(claims.get("participantId"), str) or not claims["participantId"]:
            raise VerificationError("token_invalid", "The token carries no participantId.")

    def _check_audience(self, audience: object) -> None:
        """`aud` (a string or a list) names this provider, or the shared audience while it is accepted."""
        named = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(name, str) and name in self.audiences for name in named):
            raise VerificationError("token_invalid", "Audience doesn't match")

    def _check_times(self, claims: JSONObject) -> None:
        """exp, nbf and iat are numbers, and now is inside them, give or take `leeway` seconds."""
        now = time.time()
        for name in ("exp", "nbf", "iat"):
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], int | float)):
                raise VerificationError("token_invalid", f"The {name} claim must be a number.")
        if claims["exp"] <= now - self.leeway:
            raise VerificationError("token_expired", "The token has expired.")
        if claims.get("nbf", now) > now + self.leeway or claims.get("iat", now) > now + self.leeway:
            raise VerificationError("token_invalid", "The token is not yet valid.")


def _issued_before(iat: object, valid_from: object) -> bool:
    """Whether a token's `iat` (whole seconds) is before `valid_from` (RFC 3339, milliseconds): a token issued in
    the same second counts as before (the registry compares exact times, and a token issued just before a
    reinstatement in the same second must not pass offline: a token refused this way is asked for again). A
    tokensValidFrom that cannot be read refuses every token; a token without `iat` is refused by it."""
    try:
        moment = _parse_instant(str(valid_from))
    except ValueError:
        return True
    if moment.tzinfo is None or isinstance(iat, bool) or not isinstance(iat, int | float):
        return True
    return iat <= math.floor(moment.timestamp())


def _canonical_id(participant_id: str) -> str:
    """A participantId as the registry writes it in `aud` (a lower-case UUID), however it was configured."""
    try:
        return str(uuid.UUID(participant_id))
    except ValueError:
        return participant_id


def _signature_of(headers: Headers) -> str:
    signature = next((_header(headers, name) for name in SIGNATURE_HEADERS if _header(headers, name)), None)
    if not signature:
        raise VerificationError("signature_missing", "No x-jws-signature (or Signature) header.")
    return signature


def _header(headers: Headers, name: str) -> str | None:
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
    except (ValueError, TypeError, RecursionError):
        return None
    metadata = document.get("metadata") if isinstance(document, dict) else None
    value = metadata.get("originatorParticipantId") if isinstance(metadata, dict) else None
    return str(value) if value is not None else None
