"""Input rules for participant records that are not key material (see keys.py for keys)."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

LOOPBACK_NAMES = {"localhost"}


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_base_url(value: str) -> str:
    """An https API base URL (plain http only for loopback hosts while OCEN_ALLOW_LOOPBACK_HTTP is on)."""
    url = (value or "").strip()
    URLValidator(
        schemes=["http", "https"], message="Enter a full API base URL, such as https://lender.example.in/ocen."
    )(url)
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError("The base URL must not carry a user name or password.")
    if parts.query or parts.fragment:
        raise ValidationError("The base URL must not have a query string or fragment.")
    if parts.scheme == "http":
        if not is_loopback_host(parts.hostname or ""):
            raise ValidationError("The base URL must use https.")
        if not settings.OCEN_ALLOW_LOOPBACK_HTTP:
            raise ValidationError(
                "Plain http is allowed only for loopback hosts in development (OCEN_ALLOW_LOOPBACK_HTTP)."
            )
    return url.rstrip("/")


MAX_JSON_DEPTH = 32


def json_problem(value) -> str | None:
    """Why a parsed JSON document cannot be taken in, or None: nesting deeper than MAX_JSON_DEPTH, or a
    string holding a lone surrogate (`"\\ud800"` is valid JSON, but no UTF-8 text: the database,
    hashing and signing all refuse it) or a NUL character (which PostgreSQL cannot store in text)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                pending += [(key, depth), (child, depth + 1)]
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate (not UTF-8 text)"
            if "\x00" in item:
                return "a string holds a NUL character"
    return None


LOGO_MAX_BYTES = 256 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def logo_content_type(data: bytes) -> str:
    """The content type of an organisation logo, judged by its bytes (never its name): PNG or JPEG, at most
    LOGO_MAX_BYTES. SVG, being a document that can carry scripts, is refused with everything else."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(f"A logo may be at most {LOGO_MAX_BYTES // 1024} KB; this one is {len(data) // 1024} KB.")
    for signature, content_type in LOGO_TYPES.items():
        if data.startswith(signature):
            return content_type
    raise ValidationError("A logo must be a PNG or JPEG image (this file's contents are neither).")
