from django.apps import AppConfig


class AuthapiConfig(AppConfig):
    name = "authapi"
    verbose_name = "Auth API"

    def ready(self):
        from . import schema_extensions  # noqa: F401 — registers the OpenAPI auth extension
