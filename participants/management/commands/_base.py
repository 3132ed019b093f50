"""Shared plumbing for the registry's management commands: JSON out, one-line errors, actors."""

import argparse
import datetime as dt
import json
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from participants.models import Participant
from participants.services import Actor


def one_line(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


def at_least(minimum: int):
    """An argparse type: an integer no smaller than `minimum`."""

    def parse(text: str) -> int:
        value = int(text)  # ValueError: argparse says "invalid parse value"
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


class RegistryCommand(BaseCommand):
    """A command that calls one service and prints its result as JSON; a refusal is one line on stderr."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        # No abbreviated flags: a doc or script naming a flag the command no longer has must fail, not match
        # a longer one by its prefix.
        parser = super().create_parser(prog_name, subcommand, allow_abbrev=False, **kwargs)

        def error(message):
            if not parser.called_from_command_line:
                raise CommandError(f"Error: {message}")
            parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")

        parser.error = error
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:  # one line, as every refusal (the database is locked, or unreachable)
            raise CommandError(f"The database could not be used: {str(exc).strip().splitlines()[0]}") from None

    def add_actor_argument(self, parser):
        parser.add_argument(
            "--actor", metavar="USERNAME", help="Staff user to record as the actor (default: cli:<os user>)."
        )

    def actor(self, options) -> Actor:
        username = options.get("actor")
        if not username:
            return Actor.cli()
        user = get_user_model().objects.filter(username=username, is_staff=True, is_active=True).first()
        if user is None:
            raise CommandError(f"No active staff user named {username!r}.")
        return Actor(label=f"cli:{username}", user=user)

    def participant(self, participant_id: str) -> Participant:
        try:
            return Participant.objects.select_related("organisation").get(pk=uuid.UUID(participant_id))
        except (ValueError, Participant.DoesNotExist):
            raise CommandError(f"No participant with id {participant_id!r}.") from None

    def read_key_file(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read public key file {path!r}: {exc.strerror}.") from None

    def emit(self, payload: dict) -> None:
        self.stdout.write(json.dumps(payload, indent=2))

    @staticmethod
    def instant(value: str, flag: str):
        """An option's time: `now`, or RFC 3339 with its zone (2026-12-01T10:00:00Z)."""
        if value.strip().lower() == "now":
            return timezone.now()
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
        try:
            if moment.tzinfo is None:
                raise ValueError("a time without its zone")
            return moment.astimezone(dt.UTC)  # in UTC, as every time the registry keeps and prints
        except (AttributeError, ValueError, OverflowError):  # none, no zone, or past the last representable day
            raise CommandError(
                f"{flag} must be 'now' or an RFC 3339 time with its zone, such as 2026-12-01T10:00:00Z."
            ) from None

    def call(self, service, **kwargs):
        try:
            return service(**kwargs)
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from None


class ParticipantStatusCommand(RegistryCommand):
    """Apply one status service to a participant and print its resulting statuses."""

    service = None  # staticmethod(a participants.services function taking participant= and actor=)
    takes_reason = False

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        if self.takes_reason:
            parser.add_argument("--reason", required=True, help="Why, for the audit trail (required).")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        extra = {"reason": options["reason"]} if self.takes_reason else {}
        participant = self.call(
            self.service,
            participant=self.participant(options["participant_id"]),
            actor=self.actor(options),
            **extra,
        )
        event = participant.audit_events.order_by("-at", "-pk").first()  # the one this service just wrote
        self.emit(
            {
                "participantId": str(participant.id),
                "participantRoleStatus": participant.review_status,
                "status": participant.status,
                "canAuthenticate": participant.can_authenticate,
                "keys": "revoked"
                if participant.is_offboarded
                else "withheld"
                if participant.keys_withheld
                else "published",
                # What else it changed, as the audit trail records it (tokens revoked, keys, resource mappings).
                "changed": {name: value for name, value in event.details.items() if name != "reason"},
            }
        )
