from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participant registry"

    def ready(self):
        from . import checks, receivers  # noqa: F401 — registers the checks, connects the receivers
