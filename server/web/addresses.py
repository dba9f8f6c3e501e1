"""Who is calling: the client's IP address, through the reverse proxies we were told to trust.

Behind a proxy every connection comes from the proxy, so the client's address is in the
X-Forwarded-For (or RFC 7239 Forwarded) header the proxy appends to. Anyone can send
those headers, so they count only when the connecting peer is a trusted proxy
(FRONTDESK_TRUSTED_PROXIES), and then only up to the first address, walking from the
right, that is not itself a trusted proxy: everything left of it was written by the
client and may be forged. The rest of the app asks `client_address()` and nothing else.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

_MAX_HOPS = 32  # a longer chain is not a real proxy set-up; look no further left
_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]+)', re.IGNORECASE)


def client_address(conn: HTTPConnection) -> str | None:
    """The client's IP address as text (a request or a websocket); None if unknown."""
    peer = conn.client.host if conn.client else None
    networks = conn.app.state.fd.settings.trusted_proxy_networks
    if not networks or peer is None:
        return peer
    return forwarded_client(peer, _forwarded_chain(conn), networks)


def forwarded_client(peer: str, chain: list[str], trusted: tuple[Network, ...]) -> str:
    """The right-most address of ``chain`` + [peer] that is not a trusted proxy.

    A hop that is not an IP address (``unknown``, an obfuscated name, garbage) ends the
    walk: the last trusted proxy before it is the best we know.
    """
    current = _parse(peer)
    if current is None or not _is_trusted(current, trusted):
        return peer
    for raw in reversed(chain[-_MAX_HOPS:]):
        hop = _parse(raw)
        if hop is None:
            return str(current)
        current = hop
        if not _is_trusted(hop, trusted):
            return str(hop)
    return str(current)  # every hop is a proxy of ours: the left-most is the client


def _forwarded_chain(conn: HTTPConnection) -> list[str]:
    """The hops the proxies recorded, left to right: X-Forwarded-For if present, else Forwarded."""
    xff = conn.headers.getlist("x-forwarded-for")
    if xff:
        return [part.strip() for value in xff for part in value.split(",") if part.strip()]
    forwarded = conn.headers.getlist("forwarded")
    return [m.group(1) for value in forwarded for m in _FORWARDED_FOR.finditer(value)]


def _parse(raw: str) -> Address | None:
    text = raw.strip().strip('"')
    if text.startswith("["):  # Forwarded: "[2001:db8::1]:4711"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port: "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
