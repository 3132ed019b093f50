import logging

from django.conf import settings

from . import signing
from .paths import is_api_path, is_registry_path

SIGNATURE_HEADER = "x-jws-signature"
logger = logging.getLogger(__name__)


class SignedRegistryResponses:
    """Every JSON answer of the registry API, errors included, carries the registry's detached JWS
    (contract §6) over its exact bytes. Views that cache a rendering cache its signature with it.
    While no signing key can be loaded (the database is down), answers — 503s — go out unsigned."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            is_registry_path(request.path)
            and SIGNATURE_HEADER not in response
            and not response.streaming
            and response.get("Content-Type", "").startswith("application/json")
            and response.content
        ):
            from .health import UNREACHABLE

            caller = getattr(request, "auth", None)  # the bearer check read the active kid, when there was one
            try:
                response[SIGNATURE_HEADER] = signing.sign_detached(
                    response.content, getattr(caller, "active_kid", None)
                )
            except (signing.NoSigningKey, *UNREACHABLE) as exc:
                logger.warning("Registry answer to %s sent unsigned: %s", request.path, type(exc).__name__)
        return response


class RefuseNulInQueryStrings:
    """A query-string value holding a NUL character is a 400 (the §5 body on API paths): PostgreSQL
    cannot even compare text with one, so a filter carrying it (an admin list's ?status=%00) would
    otherwise fail as a database error. Form fields refuse NUL already (Django's CharField)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "%00" in request.META.get("QUERY_STRING", "") and any(
            "\x00" in name or any("\x00" in value for value in values) for name, values in request.GET.lists()
        ):
            from .errors import bad_request

            return bad_request(request)
        return self.get_response(request)


class RefuseOversizedBodies:
    """A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE on an API path is a 413 in that path's JSON shape, in every
    mode, before anything reads it (Django would refuse it later as a 400: an HTML page in development). Django
    sizes a body by its Content-Length, as this does, and reads a body sent without one (chunked) as empty: such a
    request is a 411, never a request acted on without the parameters it sent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads no body then
        too_large = declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()  # Django would read it as empty
        if (too_large or chunked) and is_api_path(request.path):  # the path only when it matters: every request
            from .errors import length_required, payload_too_large

            return payload_too_large(request) if too_large else length_required(request)
        return self.get_response(request)


class JsonNotFoundOnApiPaths:
    """A path under the API that matches nothing answers the API's JSON 404 in development too, where
    Django renders its HTML page instead of calling handler404 (authapi.errors.not_found). Innermost, so
    the registry's signature and CommonMiddleware's APPEND_SLASH redirect still apply to the answer; and
    no catch-all route, so an unmatched POST meets no view and so no CSRF check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            from .errors import not_found

            return not_found(request)
        return response
