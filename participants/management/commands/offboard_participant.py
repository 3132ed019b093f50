from participants import services

from ._base import ParticipantStatusCommand


class Command(ParticipantStatusCommand):
    help = "Offboard a participant: delete its client, revoke its tokens and keys, remove its resource mappings."
    service = staticmethod(services.offboard_participant)
    takes_reason = True
