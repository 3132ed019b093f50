from participants import services

from ._base import ParticipantStatusCommand


class Command(ParticipantStatusCommand):
    help = "Approve a participant under review (with four-eyes on, name a different --actor)."
    service = staticmethod(services.approve_participant)
    takes_reason = False
