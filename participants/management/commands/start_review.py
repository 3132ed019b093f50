from participants import services

from ._base import ParticipantStatusCommand


class Command(ParticipantStatusCommand):
    help = "Start the review of an application received (Applied → Under review); then approve or reject it."
    service = staticmethod(services.start_review)
    takes_reason = False
