"""Input rules for participant records that are not key material (see keys.py for keys)."""

import zlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .destinations import is_loopback_host, literal_address_refused


def normalise_base_url(value: str) -> str:
    """An https API base URL (plain http only for loopback hosts while OCEN_ALLOW_LOOPBACK_HTTP is on), whose host,
    when it is an address, is one the registry's address rule allows (destinations.may_call)."""
    url = (value or "").strip()
    URLValidator(
        schemes=["http", "https"], message="Enter a full API base URL, such as https://lender.example.in/ocen."
    )(url)
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError("The base URL must not carry a user name or password.")
    if parts.query or parts.fragment:
        raise ValidationError("The base URL must not have a query string or fragment.")
    if refusal := literal_address_refused(parts.hostname or ""):
        raise ValidationError(refusal)
    if parts.scheme == "http":
        _refuse_plain_http(parts.hostname or "")
    return url.rstrip("/")


def _refuse_plain_http(host: str) -> None:
    if not is_loopback_host(host):
        raise ValidationError("The base URL must use https.")
    if not settings.OCEN_ALLOW_LOOPBACK_HTTP:
        raise ValidationError(
            "Plain http is allowed only for loopback hosts in development (OCEN_ALLOW_LOOPBACK_HTTP)."
        )


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


# Every record of the organisation's participants carries its logo inline (base64), and a list page holds
# up to 200 records: 64 KiB is a generous logo and keeps a full page of them under 18 MB.
LOGO_MAX_BYTES = 64 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def logo_content_type(data: bytes) -> str:
    """The content type of an organisation logo, judged by its bytes (never its name): a well-formed PNG or
    JPEG, at most LOGO_MAX_BYTES. SVG, being a document that can carry scripts, is refused with everything
    else, as is a file that only starts like an image."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(f"A logo may be at most {LOGO_MAX_BYTES // 1024} KB; this one is {len(data) // 1024} KB.")
    if data.startswith(PNG_SIGNATURE) and _is_png(data):
        return "image/png"
    if data.startswith(b"\xff\xd8") and _is_jpeg(data):
        return "image/jpeg"
    raise ValidationError("A logo must be a PNG or JPEG image (this file's contents are not one).")


def _is_png(data: bytes) -> bool:
    """PNG's chunk structure (RFC 2083): IHDR first, IEND last, every chunk's CRC right, nothing after."""
    position, names = len(PNG_SIGNATURE), []
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        chunk = data[position + 4 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(chunk) != 4 + length or len(crc) != 4 or zlib.crc32(chunk).to_bytes(4, "big") != crc:
            return False
        names.append(chunk[:4])
        position += 12 + length
        if names[-1] == b"IEND":
            break
    return position == len(data) and len(names) >= 2 and names[0] == b"IHDR" and names[-1] == b"IEND"


def _is_jpeg(data: bytes) -> bool:
    """JPEG's marker structure: SOI, length-prefixed segments up to the start of scan, then the scan, and
    EOI as the last two bytes."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return False
        if marker == 0xDA:  # start of scan: entropy-coded data runs to EOI
            return position + 2 + length < len(data) - 2 and data.endswith(b"\xff\xd9")
        position += 2 + length
    return False
