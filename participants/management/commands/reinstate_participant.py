from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = "Reinstate a suspended participant."

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        participant = self.call(
            services.reinstate_participant,
            participant=self.participant(options["participant_id"]),
            actor=self.actor(options),
        )
        self.emit(
            {
                "participantId": str(participant.id),
                "participantRoleStatus": participant.review_status,
                "status": participant.status,
            }
        )
