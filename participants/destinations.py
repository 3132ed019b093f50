"""Where the registry, and participants on its word, send requests: the one address rule.

A webhook receiver's URL is checked where it is taken in (services.subscribe) and again before every delivery
(authapi/webhooks.py), whose connection goes to the very address that was checked; a participant's API base URL
is checked where it is taken in (validators.normalise_base_url), its host only when it is an address (a name may
not resolve from the registry's own network, so names are not resolved there).

https only (plain http to loopback only with OCEN_ALLOW_LOOPBACK_HTTP), and never to a private, loopback,
link-local, reserved or otherwise non-global address (loopback allowed with that same setting)."""

import concurrent.futures
import ipaddress
import socket
import unicodedata
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


# getaddrinfo takes no timeout: a name server that never answers would hold a web worker (at subscribing) or the
# deliverer (before its deadline starts) for as long as the resolver's own retries last. It runs in a small pool
# and is given up on after RESOLVE_SECONDS (the thread finishes on its own; a flood only fills the pool, and further
# names are refused, not waited for).
RESOLVE_SECONDS = 5
_resolver = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="ocen-resolve")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each of which must be one the deliverer may call."""
    try:
        found = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM).result(RESOLVE_SECONDS)
    except concurrent.futures.TimeoutError:
        raise DestinationRefused(f"The host {host!r} did not resolve within {RESOLVE_SECONDS} s.") from None
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


def _as_address(host: str):
    """The address `host` names as an address literal, as C libraries read one (10.0.0.01, 0x7f.1 and 2130706433
    are IPv4 addresses to them), or None for a name. A numeric last label is never a name (no TLD is numeric)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    if not (last.isdigit() or last.startswith("0x")):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return ipaddress.IPv4Address(0)  # neither a name nor an address a client agrees on: refused


def literal_address_refused(host: str) -> str | None:
    """Why a URL whose host is an address literal (or a loopback name) may not be used (`may_call`), or None: a
    name, or an address the rule allows. Names are not resolved here. The host is read as clients read it: NFKC
    (full-width digits are digits to a browser, curl and Java's IDN) and without a trailing dot."""
    host = unicodedata.normalize("NFKC", host).rstrip(".").lower()
    if is_loopback_host(host) and not settings.OCEN_ALLOW_LOOPBACK_HTTP:
        return f"The host {host} is a loopback name: participants are reached at public addresses."
    address = _as_address(host)
    if address is None or may_call(str(address)):
        return None
    return (
        f"The host {host} is a private, loopback, link-local or reserved address: participants are reached at "
        "public addresses (loopback only with OCEN_ALLOW_LOOPBACK_HTTP)."
    )
