"""The operators' console, one module per area; importing the package registers every admin page."""

from django.contrib import admin
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from . import accounts, audit, dashboard, keys, organisations, participants, products  # noqa: F401 — registers the admins

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
