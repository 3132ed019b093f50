"""
Error bodies. Registry API (contract §5): {"errorCode", "message", "timestamp", "traceId"} for every
error, including 401/403/404/405/429 and paths that match nothing. OAuth endpoints (RFC 6749 §5.2):
{"error", "error_description"}.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.http import JsonResponse
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

from .authentication import BEARER_CHALLENGE
from .paths import is_api_path, oauth_prefixes

ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_TOKEN",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    410: "GONE",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


OAUTH_DESCRIPTIONS = {
    "invalid_client": "Client authentication failed.",
    "invalid_request": "The request is missing a parameter or is malformed.",
    "unsupported_grant_type": "Only the client_credentials grant is supported.",
    "invalid_scope": "The requested scope is not available to this client.",
    "invalid_grant": "The grant is invalid.",
    "unauthorized_client": "This client may not use this grant.",
    "temporarily_unavailable": "The service is temporarily unavailable; try again shortly.",
    # RFC 8707 §2: the resource (or audience) the token request names cannot be a token's audience.
    "invalid_target": (
        "The token's audience must be an approved, active participant other than the caller: "
        "resource is its API base URL, audience its participantId."
    ),
}


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_response(error: str, status: int, description: str | None = None, headers=None) -> JsonResponse:
    """An RFC 6749 §5.2 error body (the OAuth endpoints' shape), never cached."""
    body = {"error": error, "error_description": description or OAUTH_DESCRIPTIONS.get(error, error)}
    response = JsonResponse(body, status=status, headers={**NO_STORE, **(headers or {})})
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="ocen-registry", error="invalid_client"'
    return response


def trace_id(request) -> str:
    supplied = request.headers.get("X-Trace-Id", "") if request is not None else ""
    return supplied[:64] if supplied.isprintable() and supplied else uuid.uuid4().hex


def error_body(status_code: int, message: str, request=None, code: str | None = None) -> dict:
    return {
        "errorCode": code or ERROR_CODES.get(status_code, f"HTTP_{status_code}"),
        "message": message,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "traceId": trace_id(request),
    }


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {_message(value)}" for field, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def registry_exception_handler(exc, context):
    """DRF's handler, reshaped into the contract §5 error body."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
        response["WWW-Authenticate"] = BEARER_CHALLENGE
        message = "A valid bearer token of an approved, active participant is required."
    else:
        message = _message(
            response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        )
    response.data = error_body(response.status_code, message, request)
    return response


def not_found(request, exception=None):
    """Paths that match nothing: the §5 body under the API prefixes, Django's page elsewhere."""
    if is_api_path(request.path):
        return JsonResponse(error_body(404, f"No such resource: {request.path}", request), status=404)
    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """Requests Django itself refuses (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host): §5 under the API."""
    if is_api_path(request.path):
        message = "The request is too large or malformed."
        return JsonResponse(error_body(400, message, request), status=400)
    return django_bad_request(request, exception)


def payload_too_large(request):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (middleware.RefuseOversizedBodies): 413, as RFC 6749 §5.2 at the
    OAuth endpoints, in the §5 shape elsewhere under the API."""
    message = f"The request body is larger than the registry takes ({settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)."
    if f"{request.path}/".startswith(oauth_prefixes()):
        return oauth_error_response("invalid_request", 413, message)
    return JsonResponse(error_body(413, message, request), status=413)


def length_required(request):
    """A body sent without a Content-Length (Transfer-Encoding: chunked): 411, in the path's JSON shape."""
    message = "Send the request body with a Content-Length (chunked bodies are not read)."
    if f"{request.path}/".startswith(oauth_prefixes()):
        return oauth_error_response("invalid_request", 411, message)
    return JsonResponse(error_body(411, message, request), status=411)


def internal_error(request):
    if is_api_path(request.path):
        return JsonResponse(error_body(500, "Internal error; it has been logged.", request), status=500)
    return server_error(request)
