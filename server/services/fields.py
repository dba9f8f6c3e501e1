"""Checks for what people and pages send: each raises Invalid/TooLarge naming the field."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from publicsuffixlist import PublicSuffixList

from ..errors import Invalid, TooLarge

LOCAL_PART_MAX_OCTETS = 64  # RFC 5321 4.5.3.1.1
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Control characters other than tab and newline have no place in chat text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value: Any, field: str, *, max_chars: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(field=field)
        return None
    if not isinstance(value, str):
        raise Invalid(field=field)
    value = _CONTROL.sub("", value).strip()
    if len(value) > max_chars:
        raise TooLarge(field=field, max=max_chars)
    if not value and required:
        raise Invalid(field=field)
    return value or None


MAX_POSITION = 2**63 - 1  # a BIGINT: what the database can compare a seq or event id with


def position(value: Any, field: str) -> int | None:
    """A resume position (last_seq, after_event): None, or a whole number 0..2**63-1.
    JSON true/false are refused, not read as 1/0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
        raise Invalid(field=field)
    return value


def client_id(value: Any, field: str = "id") -> str:
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        raise Invalid(field=field)
    return value


def email(value: Any, field: str = "email", *, required: bool = False) -> str | None:
    raw = text(value, field, max_chars=254, required=required)
    if raw is None:
        return None
    try:
        # strict: RFC 5321's 64-character limit on the local part (off by default there).
        valid = validate_email(raw, check_deliverability=False, strict=True)
    except EmailNotValidError:
        raise Invalid(field=field) from None
    if len(valid.local_part.encode()) > LOCAL_PART_MAX_OCTETS:  # the limit is in octets (RFC 6531)
        raise Invalid(field=field)
    return valid.normalized


def phone(value: Any, field: str = "phone", *, region: str | None = None) -> str | None:
    """E.164; numbers without a country code are read in the visitor's region if known."""
    raw = text(value, field, max_chars=32, required=False)
    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise Invalid(field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def origin(value: Any, field: str = "origin") -> str:
    """Normalise to scheme://host[:port]; default ports dropped, host lower-cased and in
    ASCII (punycode), as browsers send it in the Origin header."""
    if not isinstance(value, str) or len(value) > 255:
        raise Invalid(field=field)
    given = value.strip()
    parts = _split_origin(given, field)
    if "*" in given:
        raise Invalid(field=field, reason="wildcard", value=given)
    if parts.username or parts.password or not parts.hostname:
        raise Invalid(field=field, reason="host", value=given)
    try:
        port = parts.port
    except ValueError:
        raise Invalid(field=field, reason="host", value=given) from None
    host = _host(parts.hostname, parts.netloc)
    if host is None:
        raise Invalid(field=field, reason="host", value=given)
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _split_origin(given: str, field: str) -> SplitResult:
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or "://" not in given:
        raise Invalid(field=field, reason="scheme", value=given)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid(field=field, reason="path", value=given)
    return parts


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_WILDCARD = re.compile(r"^(https?)://\*\.([^/?#]+)/?$", re.IGNORECASE)


def _host(hostname: str, netloc: str) -> str | None:
    """The host as browsers write it in an Origin (IPv6 bracketed), or None if it is none."""
    if "[" in netloc:
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            return None
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return ascii_host


def origin_pattern(value: Any, field: str = "origin") -> str:
    """An allowed origin as a site owner writes it: an exact origin, or every subdomain of
    a domain as ``https://*.example.com[:port]`` (any depth; not example.com itself, as in
    CSP). The wildcard must be the whole left-most label, over a domain someone can own:
    not over a public suffix (``*.com``, ``*.co.uk``, ``*.github.io``) or an IP address."""
    if not isinstance(value, str) or "*" not in value:
        return origin(value, field)
    given = value.strip()
    _split_origin(given, field)
    match = _WILDCARD.match(given)
    if match is None or "*" in match.group(2):
        raise Invalid(field=field, reason="wildcard", value=given)
    try:
        base = origin(f"{match.group(1).lower()}://{match.group(2)}", field)
    except Invalid as exc:
        raise Invalid(field=field, reason=exc.reason, value=given) from None
    scheme, _, rest = base.partition("://")
    host = rest.rsplit(":", 1)[0] if not rest.endswith("]") else rest
    if host.startswith("[") or _is_ipv4(host):
        raise Invalid(field=field, reason="wildcard_ip", value=given)
    if _public_suffixes().is_public(host):
        raise Invalid(field=field, reason="public_suffix", value=given, host=host)
    return f"{scheme}://*.{rest}"


def origin_matches(pattern: str, normal_origin: str) -> bool:
    """Whether a normalised origin is allowed by one stored origin or wildcard pattern."""
    if "*" not in pattern:
        return pattern == normal_origin
    scheme, _, rest = pattern.partition("://*.")
    their_scheme, _, their_rest = normal_origin.partition("://")
    # "shop.example.com:8443".endswith(".example.com:8443"): a subdomain, same port.
    return their_scheme == scheme and their_rest.endswith("." + rest) and not their_rest.startswith("[")


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List the package ships (no download at run time)."""
    return PublicSuffixList()


def language(value: Any, supported: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().lower()[:2]
    return code if code in supported else None


_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


def page_url(value: Any, field: str = "url") -> str | None:
    """A page's address as a browser reports it: http(s) only (a ``javascript:`` or ``data:``
    URL is refused), at most 2048 characters."""
    raw = text(value, field, max_chars=2048, required=False)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(field=field)
    return raw


def timezone_name(value: Any) -> str | None:
    """An IANA time zone as Intl reports it ("Asia/Almaty"), or None for anything else."""
    return value if isinstance(value, str) and _TIMEZONE.match(value) else None


def cut(value: Any, max_chars: int) -> str | None:
    """Free text a browser sends (a title, a UTM tag): control characters dropped, cut to
    ``max_chars`` rather than refused (a long page title is not the visitor's mistake)."""
    if not isinstance(value, str):
        return None
    value = _CONTROL.sub("", value).strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value[:max_chars] or None
