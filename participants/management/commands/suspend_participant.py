from participants import services

from ._base import ParticipantStatusCommand


class Command(ParticipantStatusCommand):
    help = "Suspend an active participant (it cannot authenticate; its tokens are revoked)."
    service = staticmethod(services.suspend_participant)
    takes_reason = True
