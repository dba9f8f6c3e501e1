"""Queries for sites."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .db import utcnow
from .schema import sites


@dataclass(frozen=True)
class Site:
    id: int
    key: str
    name: str
    allowed_origins: tuple[str, ...]
    color: str
    position: str
    language: str | None
    greeting: dict[str, str]  # {"": default, "ru": …}: per language, the default as fallback
    offset_x: int = 16  # the launcher's distance from its corner, CSS px
    offset_y: int = 16
    live_visitors: bool = False  # every page view registers and connects
    consent_required: bool = False  # nothing stored or connected before consent or opening the chat
    contact_enabled: bool = False  # the contact form's tab (0011)
    contact_required: tuple[str, ...] = ("email_or_phone",)  # of name, email, phone, email_or_phone
    consent_text: dict[str, str] = field(default_factory=dict)  # per language, like greeting
    privacy_url: str | None = None
    notify_email: str | None = None  # new contact messages go here, else to every operator
    default_country: str | None = None  # region of phone numbers typed without a country code
    prechat: str = "off"  # the widget's pre-chat form: off | optional | required
    prechat_fields: tuple[str, ...] = ("name", "email")
    anonymize_ips: bool = False  # store addresses with the host part zeroed
    identity_secret: str | None = None  # user_hash = HMAC-SHA256(user_id, identity_secret)
    # Callback requests (services/callbacks.py reads these into a slots.Schedule).
    callbacks_enabled: bool = False
    callback_tz: str = "UTC"
    callback_hours: str = "mon-fri=09:00-18:00"
    callback_days_off: str = ""  # ISO dates, comma-separated
    callback_slot_minutes: int = 30
    callback_lead_minutes: int = 60
    callback_capacity: int = 1
    callback_countries: str = ""  # accepted phone regions, comma-separated; empty: any
    texts: dict[str, dict[str, str]] | None = None  # other visitor-facing texts: {name: {lang: text}}
    tabs: tuple[str, ...] | None = None  # the widget's tab switches that are on; None: all on


def _site(row: Any) -> Site:
    return Site(
        id=row.id,
        key=row.key,
        name=row.name,
        allowed_origins=tuple(json.loads(row.allowed_origins)),
        color=row.color,
        position=row.position,
        language=row.language,
        greeting=json.loads(row.greeting) if row.greeting else {},
        offset_x=row.offset_x,
        offset_y=row.offset_y,
        live_visitors=bool(row.live_visitors),
        consent_required=bool(row.consent_required),
        contact_enabled=bool(row.contact_enabled),
        contact_required=tuple(p for p in row.contact_required.split(",") if p),
        consent_text=json.loads(row.consent_text) if row.consent_text else {},
        privacy_url=row.privacy_url,
        notify_email=row.notify_email,
        default_country=row.default_country,
        prechat=row.prechat,
        prechat_fields=tuple(f for f in row.prechat_fields.split(",") if f),
        anonymize_ips=bool(row.anonymize_ips),
        identity_secret=row.identity_secret,
        callbacks_enabled=bool(row.callbacks_enabled),
        callback_tz=row.callback_tz,
        callback_hours=row.callback_hours,
        callback_days_off=row.callback_days_off,
        callback_slot_minutes=row.callback_slot_minutes,
        callback_lead_minutes=row.callback_lead_minutes,
        callback_capacity=row.callback_capacity,
        callback_countries=row.callback_countries,
        texts=json.loads(row.texts) if row.texts else {},
        tabs=tuple(json.loads(row.tabs)) if row.tabs else None,
    )


def insert_site(conn: Connection, **values: Any) -> Site:
    values["allowed_origins"] = json.dumps(list(values["allowed_origins"]))
    if "prechat_fields" in values:
        values["prechat_fields"] = ",".join(values["prechat_fields"])
    values["greeting"] = json.dumps(values["greeting"], ensure_ascii=False) if values.get("greeting") else None
    values["consent_text"] = json.dumps(values["consent_text"], ensure_ascii=False) if values.get("consent_text") else None
    values["contact_required"] = ",".join(values.get("contact_required") or ())
    result = conn.execute(insert(sites).values(created_at=utcnow(), **values).returning(sites.c.id))
    return get_site(conn, result.scalar_one())  # type: ignore[return-value]


def get_site(conn: Connection, site_id: int) -> Site | None:
    row = conn.execute(select(sites).where(sites.c.id == site_id)).first()
    return _site(row) if row else None


def get_site_by_key(conn: Connection, key: str) -> Site | None:
    row = conn.execute(select(sites).where(sites.c.key == key)).first()
    return _site(row) if row else None


def list_sites(conn: Connection) -> list[Site]:
    return [_site(r) for r in conn.execute(select(sites).order_by(sites.c.id))]


def get_site_by_name(conn: Connection, name: str) -> Site | None:
    row = conn.execute(select(sites).where(sites.c.name == name).order_by(sites.c.id).limit(1)).first()
    return _site(row) if row else None


def update_allowed_origins(conn: Connection, site_id: int, allowed_origins: tuple[str, ...]) -> None:
    conn.execute(update(sites).where(sites.c.id == site_id).values(allowed_origins=json.dumps(list(allowed_origins))))


def update_site(conn: Connection, site_id: int, **values: Any) -> None:
    """Set site columns; JSON ones (allowed_origins, greeting, texts, tabs) and comma lists
    (prechat_fields) given as Python values."""
    if "prechat_fields" in values:
        values["prechat_fields"] = ",".join(values["prechat_fields"])
    for name in ("allowed_origins", "tabs"):
        if name in values:
            values[name] = json.dumps(list(values[name]))
    for name in ("greeting", "texts"):
        if name in values:
            values[name] = json.dumps(values[name], ensure_ascii=False) if values[name] else None
    conn.execute(update(sites).where(sites.c.id == site_id).values(**values))
