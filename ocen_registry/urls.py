import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from authapi import urls as authapi_urls
from authapi.errors import not_found
from authapi.health import healthz
from authapi.views.discovery import AuthorizationServerMetadataView, WellKnownJWKSView
from participants.forms import AdminLoginForm

admin.site.login_form = AdminLoginForm
admin.site.site_header = "OCEN Registry"
admin.site.site_title = "OCEN Registry"
admin.site.index_title = "Participant registry"

# The OAuth endpoints live at the issuer's path (contract §4: default /auth).
ISSUER_PATH = settings.OCEN_ISSUER_PATH
ISSUER_PREFIX = f"{ISSUER_PATH}/" if ISSUER_PATH else ""

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path(ISSUER_PREFIX, include((authapi_urls.oauth_patterns, "auth"))),
    path("service/", include((authapi_urls.service_patterns, "service"))),
    path(".well-known/jwks.json", WellKnownJWKSView.as_view(), name="jwks"),
    path(
        f".well-known/oauth-authorization-server/{ISSUER_PATH}".rstrip("/"),
        AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    # Anything else under the API's paths is the API's own JSON 404, also in development (DEBUG shows
    # Django's HTML page instead of handler404).
    re_path(rf"^(?:service|api|\.well-known{'|' + re.escape(ISSUER_PATH) if ISSUER_PATH else ''})/", not_found),
]

handler400 = "authapi.errors.bad_request"
handler404 = "authapi.errors.not_found"
handler500 = "authapi.errors.internal_error"
