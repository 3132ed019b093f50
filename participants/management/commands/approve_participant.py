from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = "Approve a participant under review (with four-eyes on, name a different --actor)."

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        participant = self.call(
            services.approve_participant,
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
