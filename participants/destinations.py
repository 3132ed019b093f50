"""Where the registry, and participants on its word, send requests: the one address rule.

A webhook receiver's URL is checked where it is taken in (services.subscribe) and again before every delivery
(authapi/webhooks.py), whose connection goes to the very address that was checked; a participant's API base URL
is checked where it is taken in (validators.normalise_base_url), its host only when it is an address (a name may
not resolve from the registry's own network, so names are not resolved there).

https only (plain http to loopback only with OCEN_ALLOW_LOOPBACK_HTTP), and never to a private, loopback,
link-local, reserved or otherwise non-global address (loopback allowed with that same setting)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

LOOPBACK_NAMES = {"localhost"}


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DestinationRefused(ValueError):
    """A receiver's URL the deliverer will not call: why, in words for the subscriber."""


def check_url(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) of a receiver's URL that passes the rules; DestinationRefused if not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    _check_form(parts, host)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("The URL's port is not a number from 1 to 65535.") from None
    return parts.scheme, host, port, resolve(host, port)


def _check_form(parts, host: str) -> None:
    if parts.scheme not in ("https", "http") or not host:
        raise DestinationRefused("The URL must be an absolute https URL.")
    if parts.username or parts.password:
        raise DestinationRefused("The URL must not carry a user name or password.")
    if parts.scheme == "http" and not (settings.OCEN_ALLOW_LOOPBACK_HTTP and is_loopback_host(host)):
        raise DestinationRefused("The URL must use https (plain http only to loopback, with OCEN_ALLOW_LOOPBACK_HTTP).")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each of which must be one the deliverer may call."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DestinationRefused(f"The host {host!r} does not resolve.") from None
    addresses = sorted({info[4][0] for info in found})
    if not addresses or not all(may_call(address) for address in addresses):
        # Which addresses, the subscriber is not told: that would map the registry's own network for it.
        raise DestinationRefused(f"The host {host!r} is not at a public address: webhooks go only to those.")
    return addresses


# IPv6 prefixes that carry an IPv4 address a gateway may reach (NAT64, 6to4, Teredo, SIIT, IPv4-compatible):
# a webhook receiver has no reason to be named by one, and each could reach a private IPv4 network.
EMBEDDING_IPV4 = [
    ipaddress.ip_network(prefix)
    for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::ffff:0:0:0/96", "::/96")
]


def may_call(address: str) -> bool:
    """Whether `address` (an IP address) is one the registry's rule allows requests to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # ::ffff:10.0.0.1 is 10.0.0.1
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return settings.OCEN_ALLOW_LOOPBACK_HTTP
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in network for network in EMBEDDING_IPV4):
        return False
    return ip.is_global and not ip.is_multicast


def literal_address_refused(host: str) -> str | None:
    """Why a URL whose host is an address literal may not be used (`may_call`), or None: a name, or an address
    the rule allows. Names are not resolved here."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if may_call(str(address)):
        return None
    return (
        f"The host {host} is a private, loopback, link-local or reserved address: participants are reached at "
        "public addresses (loopback only with OCEN_ALLOW_LOOPBACK_HTTP)."
    )
