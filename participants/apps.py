from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participant registry"

    def ready(self):
        from . import receivers  # noqa: F401 — connects the receivers
