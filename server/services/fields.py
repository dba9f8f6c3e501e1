"""Checks for what people and pages send: each raises Invalid/TooLarge naming the field."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

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
    """Normalise to scheme://host[:port]; default ports dropped, host lower-cased."""
    if not isinstance(value, str) or len(value) > 255:
        raise Invalid(field=field)
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise Invalid(field=field)
    try:
        port = parts.port
    except ValueError:
        raise Invalid(field=field) from None
    if parts.username or parts.password:
        raise Invalid(field=field)
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def language(value: Any, supported: tuple[str, ...]) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().lower()[:2]
    return code if code in supported else None
