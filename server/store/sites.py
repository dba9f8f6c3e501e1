"""Queries for sites."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    texts: dict[str, dict[str, str]] | None = None  # other visitor-facing texts: {name: {lang: text}}
    tabs: tuple[str, ...] | None = None  # the widget's tabs that are on; None: the default
    default_country: str | None = None  # ISO 3166 alpha-2: how a phone without +code is read


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
        texts=json.loads(row.texts) if row.texts else {},
        tabs=tuple(json.loads(row.tabs)) if row.tabs else None,
        default_country=row.default_country,
    )


def insert_site(conn: Connection, **values: Any) -> Site:
    values["allowed_origins"] = json.dumps(list(values["allowed_origins"]))
    values["greeting"] = json.dumps(values["greeting"], ensure_ascii=False) if values.get("greeting") else None
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
    """Set site columns; JSON ones (allowed_origins, greeting, texts, tabs) given as Python values."""
    for name in ("allowed_origins", "tabs"):
        if name in values:
            values[name] = json.dumps(list(values[name]))
    for name in ("greeting", "texts"):
        if name in values:
            values[name] = json.dumps(values[name], ensure_ascii=False) if values[name] else None
    conn.execute(update(sites).where(sites.c.id == site_id).values(**values))
