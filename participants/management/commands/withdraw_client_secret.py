from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = (
        "Make a participant key-only: its client secret stops working at once; it authenticates with "
        "private_key_jwt, signed by its registered keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("--reason", required=True, help="Why, for the audit trail.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        participant = self.call(
            services.withdraw_client_secret,
            participant=self.participant(options["participant_id"]),
            actor=self.actor(options),
            reason=options["reason"],
        )
        self.emit(
            {
                "participantId": str(participant.id),
                "clientId": participant.client_id,
                "clientAuthentication": participant.client_auth_methods,
            }
        )
