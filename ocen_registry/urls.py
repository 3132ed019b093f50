from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from authapi import paths
from authapi import urls as authapi_urls
from authapi.health import healthz
from authapi.views.discovery import AuthorizationServerMetadataView, WellKnownJWKSView
from participants import operators
from participants.admin import account
from participants.forms import AdminLoginForm

admin.site.login_form = AdminLoginForm
admin.site.site_header = "OCEN Registry"
admin.site.site_title = "OCEN Registry"
admin.site.index_title = "Participant registry"
admin.site.site_url = None  # the registry has no public site: no "View site" link back to the admin


def favicon(request):
    """The registry's icon, so no page of the console or API asks for a missing /favicon.ico."""
    return HttpResponse(FAVICON, content_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f4e5f"/>'
    b'<circle cx="16" cy="16" r="8" fill="none" stroke="#fff" stroke-width="4"/></svg>'
)

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/account/", include(account.urlpatterns)),  # the operator's own pages, before the admin's catch-all
    path(operators.PASSKEYS.lstrip("/"), include((account.passkey_patterns, "otp_webauthn"))),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
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
