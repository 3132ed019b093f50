from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = "Register another public key for a participant (ACTIVE at once)."

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("--public-key", required=True, metavar="FILE", help="Certificate, public key or JWK.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        key = self.call(
            services.add_participant_key,
            participant=self.participant(options["participant_id"]),
            public_key=self.read_key_file(options["public_key"]),
            actor=self.actor(options),
        )
        self.emit(
            {
                "participantId": str(key.participant_id),
                "kid": key.kid,
                "fingerprint": key.fingerprint,
                "status": key.status,
                "validFrom": key.valid_from.isoformat(),
                "validUntil": key.valid_until.isoformat() if key.valid_until else None,
            }
        )
