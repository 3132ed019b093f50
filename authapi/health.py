"""Health for load balancers, and clean answers while the database or cache is unreachable.

An outage and a bug are different answers: only errors that mean "cannot reach PostgreSQL or Redis"
(`OperationalError`, `InterfaceError`, Redis connection and timeout errors) become a 503 that says
"retry later", logged in one line. Anything else is a bug: Django answers 500 (in the documented
shape on API paths, authapi/errors.py) and logs it with its traceback."""

import logging

from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import error_body, oauth_error_response
from .paths import is_api_path, is_token_path

UNREACHABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
logger = logging.getLogger(__name__)

RETRY_AFTER = "5"


def healthz(request):
    """GET /healthz: 200 when the database and the cache answer, else 503 in the §5 shape. No auth."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError:
        checks["database"] = "unreachable"
    try:
        cache.set("ocen:healthz", "ok", 10)
        checks["cache"] = "ok" if cache.get("ocen:healthz") == "ok" else "unreachable"
    except UNREACHABLE:
        checks["cache"] = "unreachable"
    if all(state == "ok" for state in checks.values()):
        return JsonResponse({"status": "ok", "checks": checks}, headers={"Cache-Control": "no-store"})
    failing = ", ".join(name for name, state in checks.items() if state != "ok")
    body = {**error_body(503, f"Unreachable: {failing}.", request), "checks": checks}
    return JsonResponse(body, status=503, headers={"Cache-Control": "no-store", "Retry-After": RETRY_AFTER})


class ServiceUnavailableOnOutage:
    """While PostgreSQL or Redis cannot be reached, answer 503 (RFC 6749 `temporarily_unavailable` at
    the token endpoint, the §5 body elsewhere on the API) rather than a stack trace. Django drops the
    broken connection after the request, so service resumes by itself once the server is back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UNREACHABLE):
            return None  # a bug: Django's 500, with its traceback in the log
        logger.warning("%s %s: unreachable (%s: %s)", request.method, request.path, type(exception).__name__, exception)
        headers = {"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"}
        if is_token_path(request.path):
            return oauth_error_response(
                "temporarily_unavailable", 503, "The registry is temporarily unavailable.", {"Retry-After": RETRY_AFTER}
            )
        if is_api_path(request.path):
            return JsonResponse(
                error_body(503, "The registry is temporarily unavailable.", request), status=503, headers=headers
            )
        return HttpResponse(
            "The registry is temporarily unavailable.", status=503, headers=headers, content_type="text/plain"
        )
