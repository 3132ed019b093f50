"""The operators' console, one module per area; importing the package registers every admin page."""

from django.contrib import admin
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from . import (  # noqa: F401 — registers the admins
    accounts,
    audit,
    dashboard,
    keys,
    organisations,
    participants,
    products,
    subscriptions,
)

# Tokens and client hashes are not for browsing: the registry's own pages show what operators need.
for _model in (
    get_application_model(),
    get_access_token_model(),
    get_refresh_token_model(),
    get_grant_model(),
    get_id_token_model(),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

# The task queue's rows (webhook deliveries in flight) are the worker's: the subscriptions page shows how each
# subscription's deliveries are going. Operators' devices are the operators' own: their stock pages would show
# TOTP secrets and unused recovery codes, and add or delete devices unaudited (a reset is *Users → Reset second
# factors…*, audited, four-eyes).
from django_otp.plugins.otp_static.models import StaticDevice  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402
from django_otp_webauthn.models import WebAuthnAttestation, WebAuthnCredential  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

for _model in (DBTaskResult, TOTPDevice, StaticDevice, WebAuthnCredential, WebAuthnAttestation):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
