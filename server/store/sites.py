"""Queries for sites."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

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
    greeting: str | None

    def public(self) -> dict[str, Any]:
        """What the widget may know about the site."""
        return {
            "key": self.key,
            "name": self.name,
            "color": self.color,
            "position": self.position,
            "language": self.language,
            "greeting": self.greeting,
        }


def _site(row: Any) -> Site:
    return Site(
        id=row.id,
        key=row.key,
        name=row.name,
        allowed_origins=tuple(json.loads(row.allowed_origins)),
        color=row.color,
        position=row.position,
        language=row.language,
        greeting=row.greeting,
    )


async def insert_site(conn: AsyncConnection, **values: Any) -> Site:
    values["allowed_origins"] = json.dumps(list(values["allowed_origins"]))
    result = await conn.execute(insert(sites).values(created_at=utcnow(), **values).returning(sites.c.id))
    return await get_site(conn, result.scalar_one())  # type: ignore[return-value]


async def get_site(conn: AsyncConnection, site_id: int) -> Site | None:
    row = (await conn.execute(select(sites).where(sites.c.id == site_id))).first()
    return _site(row) if row else None


async def get_site_by_key(conn: AsyncConnection, key: str) -> Site | None:
    row = (await conn.execute(select(sites).where(sites.c.key == key))).first()
    return _site(row) if row else None


async def list_sites(conn: AsyncConnection) -> list[Site]:
    return [_site(r) for r in await conn.execute(select(sites).order_by(sites.c.id))]
