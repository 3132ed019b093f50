from participants import services

from ._base import RegistryCommand


class Command(RegistryCommand):
    help = "Suspend an active participant (it cannot authenticate; its tokens are revoked)."

    def add_arguments(self, parser):
        parser.add_argument("participant_id")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        participant = self.call(
            services.suspend_participant,
            participant=self.participant(options["participant_id"]),
            actor=self.actor(options),
            reason=options["reason"],
        )
        self.emit(
            {
                "participantId": str(participant.id),
                "participantRoleStatus": participant.review_status,
                "status": participant.status,
            }
        )
