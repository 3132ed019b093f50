from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = "Issue a new client secret (printed once); the old one stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        credentials = self.call(
            services.rotate_client_secret,
            participant=self.participant(options["participant_id"]),
            actor=self.actor(options),
            reason=options["reason"],
        )
        self.emit(credentials.as_json())
