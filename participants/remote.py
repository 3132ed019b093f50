"""Where a request comes from, as the trusted reverse proxies in front of the registry report it."""

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """The caller's IP address: REMOTE_ADDR, or, behind OCEN_TRUSTED_PROXY_COUNT proxies that each
    append the address they received from to X-Forwarded-For, the entry that many from its right
    (entries further left are whatever the client chose to send, so they are never believed).

    Used wherever an address matters: audit events, the API's failure throttles, admin lockouts."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.OCEN_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            candidate = forwarded[-min(proxies, len(forwarded))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # a malformed entry: fall back to the proxy's own address
    return remote


def source_network(address: str | None):
    """The network whose failures count as one source (the token throttles, the console's lockout): an IPv4
    address alone, an IPv6 address by its /64 (one host's network, whose owner can use any address in it), an
    IPv4-mapped one as its IPv4 address; None for what is not an address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if parsed.version == 6 and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    return ipaddress.ip_network(f"{parsed}/{32 if parsed.version == 4 else 64}", strict=False)
