"""Where an IP address is: country offline out of the box, region and city from a
MaxMind-format database the owner points at (FRONTDESK_GEOIP_DATABASE), and the
anonymised form of an address for sites that store no full ones.

Country: ``iptocc`` ships the regional internet registries' delegation data (no download
at run time; ~0.1 µs a lookup). City: a ``.mmdb`` file read with ``maxminddb`` (memory
mapped, a few µs a lookup): DB-IP Lite City (CC BY 4.0, flat records ``city``,
``country_code``, ``state1``) or MaxMind's own GeoLite2/GeoIP2 City layout (nested
``country.iso_code``, ``city.names.en``, ``subdivisions[0].names.en``). docs/leads.md.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import iptocc


@dataclass(frozen=True)
class Place:
    country: str | None = None
    region: str | None = None
    city: str | None = None


class Geolocator:
    """One per app (AppState.geo); ``lookup`` is plain blocking code: call it off the loop."""

    def __init__(self, database_path: str = "") -> None:
        self._reader: Any = None
        if database_path:
            import maxminddb  # only when configured

            self._reader = maxminddb.open_database(database_path)

    def lookup(self, ip: str | None) -> Place:
        if not ip:
            return Place()
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return Place()
        if not address.is_global:
            return Place()
        country = iptocc.country_code(str(address))
        if self._reader is None:
            return Place(country=country)
        record = self._reader.get(str(address))
        if not isinstance(record, dict):
            return Place(country=country)
        return _from_record(record, country)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def country_of(ip: str | None) -> str | None:
    """Only the country, from the registry data shipped in memory (~0.1 µs: fine on the
    event loop, unlike a database lookup); None for private or unknown addresses."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    return iptocc.country_code(str(address)) if address.is_global else None


def _name(value: Any) -> str | None:
    """A flat string (DB-IP Lite) or MaxMind's {"names": {"en": …}}; cut to the column's size."""
    if isinstance(value, dict):
        value = (value.get("names") or {}).get("en")
    return value[:100] if isinstance(value, str) and value else None


def _from_record(record: dict[str, Any], fallback_country: str | None) -> Place:
    country = record.get("country_code")
    if isinstance(record.get("country"), dict):
        country = record["country"].get("iso_code")
    subdivisions = record.get("subdivisions")
    region = _name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else _name(record.get("state1"))
    country = country if isinstance(country, str) and len(country) == 2 else fallback_country
    return Place(country=country, region=region, city=_name(record.get("city")))


def anonymize(ip: str | None) -> str | None:
    """IPv4 with its last octet zeroed, IPv6 with its last 80 bits zeroed (a /48 stays)."""
    if not ip:
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
