"""Queries for visitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import utcnow
from .schema import visitors


@dataclass(frozen=True)
class Visitor:
    id: str
    site_id: int
    name: str | None
    email: str | None
    phone: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "phone": self.phone}


def _visitor(row: Any) -> Visitor:
    return Visitor(row.id, row.site_id, row.name, row.email, row.phone)


async def insert_visitor(conn: AsyncConnection, **values: Any) -> Visitor:
    now = utcnow()
    await conn.execute(insert(visitors).values(first_seen_at=now, last_seen_at=now, **values))
    return await get_visitor(conn, values["id"])  # type: ignore[return-value]


async def get_visitor(conn: AsyncConnection, visitor_id: str) -> Visitor | None:
    row = (await conn.execute(select(visitors).where(visitors.c.id == visitor_id))).first()
    return _visitor(row) if row else None


async def update_visitor(conn: AsyncConnection, visitor_id: str, **values: Any) -> Visitor | None:
    await conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(**values))
    return await get_visitor(conn, visitor_id)


async def touch_visitor(conn: AsyncConnection, visitor_id: str, **values: Any) -> None:
    await conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(last_seen_at=utcnow(), **values))
