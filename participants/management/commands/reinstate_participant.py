from participants import services

from ._base import ParticipantStatusCommand


class Command(ParticipantStatusCommand):
    help = "Reinstate a suspended participant."
    service = staticmethod(services.reinstate_participant)
    takes_reason = False
