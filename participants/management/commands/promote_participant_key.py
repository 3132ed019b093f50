from participants import services
from participants.wire import rfc3339

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = (
        "Make an ACTIVE key the participant's primary key (publicKey) now, or at --at; until then its records' "
        "max-age never runs past the switch. The old primary stays ACTIVE until retired."
    )

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("kid", help="The key's kid (one that starts with '-' goes after a '--').")
        parser.add_argument("--at", metavar="WHEN", help="'now' (the default), or an RFC 3339 time.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        key = self.call(
            services.promote_participant_key,
            participant=self.participant(options["participant_id"]),
            kid=options["kid"],
            at=self.instant(options["at"], "--at") if options["at"] else None,
            actor=self.actor(options),
        )
        self.emit({"participantId": str(key.participant_id), "kid": key.kid, "primaryFrom": rfc3339(key.primary_from)})
