from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from authapi import paths
from authapi import urls as authapi_urls
from authapi.health import healthz
from authapi.views.discovery import AuthorizationServerMetadataView, WellKnownJWKSView
from participants.forms import AdminLoginForm

admin.site.login_form = AdminLoginForm
admin.site.site_header = "OCEN Registry"
admin.site.site_title = "OCEN Registry"
admin.site.index_title = "Participant registry"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # The OAuth endpoints live at the issuer's path (contract §4: default /auth); the rest of the API's
    # paths are authapi.paths' too. A path below them that matches nothing is the API's JSON 404
    # (handler404, and authapi.middleware.JsonNotFoundOnApiPaths in development).
    path(paths.issuer_prefix(), include((authapi_urls.oauth_patterns, "auth"))),
    path(paths.REGISTRY, include((authapi_urls.service_patterns, "service"))),
    path(f"{paths.WELL_KNOWN}jwks.json", WellKnownJWKSView.as_view(), name="jwks"),
    path(
        f"{paths.WELL_KNOWN}oauth-authorization-server/{settings.OCEN_ISSUER_PATH}".rstrip("/"),
        AuthorizationServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    path(f"{paths.SCHEMA}schema/", SpectacularAPIView.as_view(), name="schema"),
    path(f"{paths.SCHEMA}docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

handler400 = "authapi.errors.bad_request"
handler404 = "authapi.errors.not_found"
handler500 = "authapi.errors.internal_error"
