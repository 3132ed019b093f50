from participants import services
from participants.wire import rfc3339

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = (
        "Register another public key for a participant: ACTIVE and published at once; its primary key (the one "
        "publicKey names) from --primary-from, or once promoted (promote_participant_key)."
    )

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("--public-key", required=True, metavar="FILE", help="Certificate, public key or JWK.")
        parser.add_argument(
            "--primary-from", metavar="WHEN", help="'now', or an RFC 3339 time to switch publicKey to this key."
        )
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        primary_from = self.instant(options["primary_from"], "--primary-from") if options["primary_from"] else None
        key = self.call(
            services.add_participant_key,
            participant=self.participant(options["participant_id"]),
            public_key=self.read_key_file(options["public_key"]),
            primary_from=primary_from,
            actor=self.actor(options),
        )
        self.emit(
            {
                "participantId": str(key.participant_id),
                "kid": key.kid,
                "fingerprint": key.fingerprint,
                "status": key.status,
                "validFrom": rfc3339(key.valid_from),
                "validUntil": rfc3339(key.valid_until),
                "primaryFrom": rfc3339(key.primary_from),
            }
        )
        if key.primary_from is None:  # the contract §3 form: published, but publicKey does not change
            self.stderr.write(
                f"Note: publicKey still names the current primary key; verifiers that read only publicKey refuse "
                f"signatures by {key.kid} until `promote_participant_key {key.participant_id} -- {key.kid}`."
            )
