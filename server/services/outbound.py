"""Where outgoing requests (webhooks) may go: the host an HTTP client really contacts,
and whether an address is on the public internet.

Two checks use this. At registration a URL's host is read the way the HTTP client will
read it (so `１２７.０.０.１` and `①②⑦.⓪.⓪.①` are 127.0.0.1), and a private address is
refused with a clear error. At send time the sender checks each address it is about to
connect a socket to (`workers/webhooks.py`), whatever the URL's spelling: that check is
the one that holds, also for a URL that got into the database some other way.
"""

from __future__ import annotations

import ipaddress
import socket

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 address is the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use NAT64: translates to anything


class BadHost(ValueError):
    """A non-ASCII host that is not a valid internationalised domain name."""


def request_host(hostname: str) -> str:
    """The host as the HTTP client sends it: ASCII hosts lower-cased, others IDNA-encoded
    with UTS #46 mapping (as aiohttp's URL library does), which also turns look-alike digits
    and dots into ASCII ones. A non-ASCII host that is not a valid IDNA name raises BadHost
    (the URL library would otherwise fall back to an older, laxer encoding)."""
    if hostname.isascii():
        return hostname.lower()
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        raise BadHost(hostname) from None


def host_address(host: str) -> IPAddress | None:
    """The address an (ASCII) host stands for without DNS: an IP literal (an IPv6 zone
    dropped), or a legacy IPv4 spelling the system resolver accepts (`2130706433`,
    `0x7f.1`, `127.1`)."""
    host = host.strip("[]").split("%", 1)[0].removesuffix(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not host.isascii():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and is routed to: IPv4-mapped
    (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip.packed[:12] == bytes(12):
        return ipaddress.IPv4Address(ip.packed[12:])
    return None


def public(ip: IPAddress) -> bool:
    """On the public internet: not loopback, private, link-local, shared, reserved,
    multicast or unspecified — an IPv6 form that embeds an IPv4 address judged by that."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner is None:
            return ip.is_global and not ip.is_multicast and not ip.is_site_local
        ip = inner
    return ip.is_global and not ip.is_multicast


def address_refused(address: str, *, allow_private: bool) -> str | None:
    """Why an outgoing connection may not go to ``address`` (an IP), or None."""
    if allow_private:
        return None
    ip = host_address(address)
    if ip is not None and public(ip):
        return None
    return f"{address} is a private or local address (see FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS)"
