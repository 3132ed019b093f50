from django.apps import AppConfig


class AuthapiConfig(AppConfig):
    name = "authapi"
    verbose_name = "Auth API"

    def ready(self):
        from participants.changes import deliveries_due

        from . import (
            checks,  # noqa: F401 — registers the deploy checks
            schema_extensions,  # noqa: F401 — registers the OpenAPI auth extension
            webhooks,
        )

        # The domain says which subscriptions have events due; the deliverer (this side) sends them.
        deliveries_due.connect(webhooks.on_deliveries_due, dispatch_uid="authapi.webhooks.deliveries_due")
