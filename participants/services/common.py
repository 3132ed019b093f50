"""What every workflow shares: the actor and its audit event, new credentials, input parsing, locks."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from oauth2_provider.models import get_access_token_model, get_application_model

from .. import changes
from .. import keys as keylib
from ..models import AuditAction, AuditEvent, Organisation, Participant, ParticipantKey, Role
from ..remote import client_address
from ..validators import normalise_base_url

CLIENT_SECRET_BYTES = 32  # 256 bits


CLIENT_ID_RE = re.compile(r"^[\x21-\x7e]{1,100}$")  # what Participant.client_id holds; DOT generates 40 of these


AccessToken = get_access_token_model()


Application = get_application_model()


@dataclass(frozen=True)
class Actor:
    """Who performs a registry operation, for the audit trail."""

    label: str
    user: object | None = None
    remote_addr: str | None = None

    @property
    def db_user(self):
        """The acting user as a database row, or None (command line, system)."""
        return self.user if getattr(self.user, "pk", None) else None

    @classmethod
    def from_request(cls, request) -> Actor:
        user = request.user
        return cls(label=user.get_username(), user=user, remote_addr=client_address(request))

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def cli(cls) -> Actor:
        try:
            name = getpass.getuser()
        except Exception:  # no passwd entry in some containers
            name = "unknown"
        return cls(label=f"cli:{name}")

    @classmethod
    def system(cls) -> Actor:
        return cls(label="system")


@dataclass(frozen=True)
class Credentials:
    """A participant with its client secret, which exists in clear only in this object; None for a
    key-only participant (private_key_jwt), which has no secret to show."""

    participant: Participant
    client_secret: str | None

    def as_json(self) -> dict:
        identity = {
            "participantId": str(self.participant.id),
            "orgId": str(self.participant.organisation_id),
            "clientId": self.participant.client_id,
            # How the token endpoint takes this client, the same list whatever printed it (RFC 8414 names).
            "clientAuthentication": self.participant.client_auth_methods,
        }
        if self.client_secret is None:
            return identity
        return {**identity, "clientSecret": self.client_secret}


def audit(actor: Actor, action: AuditAction, *, participant=None, organisation=None, **details) -> AuditEvent:
    """Append the audit event for an action, then announce what it changed (participants/changes.py: the feed's
    entries, updatedOn, deliveries due). Callers pass facts only, never secrets or private keys, and audit last,
    once the rows they change are locked."""
    if participant is not None and organisation is None:
        organisation = participant.organisation
    event = AuditEvent.objects.create(
        actor=actor.label,
        actor_user=actor.db_user,
        remote_addr=actor.remote_addr,
        action=AuditAction(action),
        participant=participant,
        organisation=organisation,
        details=details,
    )
    changes.announce(event)
    return event


def _new_client_secret() -> str:
    return secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def create_client(*, organisation: Organisation, role: Role, client_id: str | None = None) -> tuple[Application, str]:
    """A confidential client-credentials OAuth client for a participant role, and its one-time secret."""
    secret = _new_client_secret()
    application = Application(
        name=f"{organisation.name} — {role.label}"[:255],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        redirect_uris="",
    )
    if client_id:
        application.client_id = client_id
    application.save()
    return application, secret


def _parse_key(public_key: str | bytes, now: dt.datetime) -> keylib.ParsedKey:
    try:
        return keylib.parse_public_key(public_key, now=now, key_types=settings.OCEN_PARTICIPANT_KEY_TYPES)
    except keylib.KeyRejected as exc:
        code = "private_key_material" if isinstance(exc, keylib.PrivateKeyMaterial) else "invalid_key"
        raise ValidationError({"public_key": ValidationError(str(exc), code=code)}) from None


def _parse_role(role: str) -> Role:
    try:
        return Role.parse(role)
    except ValueError:
        allowed = ", ".join(Role.values)
        raise ValidationError({"role": f"Unknown role {role!r}. Use one of: {allowed}."}) from None


def _base_url(value: str) -> str:
    try:
        return normalise_base_url(value)
    except ValidationError as exc:
        raise ValidationError({"base_url": exc.messages}) from None


def _key_facts(key: ParticipantKey) -> dict:
    return {"kid": key.kid, "fingerprint": key.fingerprint, "alg": key.alg, "keySize": key.key_size}


def _locked(participant: Participant) -> Participant:
    """Re-read the participant under a row lock, so concurrent operations serialise."""
    return (
        Participant.objects.select_for_update(of=("self",))
        .select_related("organisation", "application")
        .get(pk=participant.pk)
    )


def refuse(refusal: str | None, field: str | None = None) -> None:
    """Raise the refusal a model's rule gave (Participant.suspension_refused() and the like), if any."""
    if refusal:
        raise ValidationError({field: refusal} if field else refusal)


def _revoke_tokens(participant: Participant) -> int:
    if participant.application_id is None:
        return 0
    _total, per_model = AccessToken.objects.filter(application_id=participant.application_id).delete()
    return per_model.get(AccessToken._meta.label, 0)


def _save_changes(instance, values: dict) -> dict:
    """Set the values that differ, validate and save; returns what changed (nothing is saved if nothing did)."""
    changed = {name: value for name, value in values.items() if getattr(instance, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save()
    return changed
