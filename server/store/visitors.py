"""Queries for visitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .db import utcnow
from .schema import visitors


@dataclass(frozen=True)
class Visitor:
    id: str
    site_id: int
    name: str | None
    email: str | None
    phone: str | None
    token_generation: int = 0
    lead_id: str | None = None
    user_id: str | None = None  # the site's user this record was verified as (0016)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "phone": self.phone}


def _visitor(row: Any) -> Visitor:
    return Visitor(row.id, row.site_id, row.name, row.email, row.phone, row.token_generation, row.lead_id, row.user_id)


def insert_visitor(conn: Connection, **values: Any) -> Visitor:
    now = utcnow()
    conn.execute(insert(visitors).values(first_seen_at=now, last_seen_at=now, **values))
    return get_visitor(conn, values["id"])  # type: ignore[return-value]


def get_visitor(conn: Connection, visitor_id: str) -> Visitor | None:
    row = conn.execute(select(visitors).where(visitors.c.id == visitor_id)).first()
    return _visitor(row) if row else None


def verified_visitor(conn: Connection, site_id: int, user_id: str) -> Visitor | None:
    """The site's one visitor record of this verified user, if any."""
    row = conn.execute(select(visitors).where(visitors.c.site_id == site_id, visitors.c.user_id == user_id)).first()
    return _visitor(row) if row else None


def device_fields(conn: Connection, visitor_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Some columns of a visitor's row as stored (what the browser told: address, agent, …)."""
    row = conn.execute(select(*[visitors.c[n] for n in names]).where(visitors.c.id == visitor_id)).first()
    return dict(row._mapping) if row else {}


def update_visitor(conn: Connection, visitor_id: str, **values: Any) -> Visitor | None:
    conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(**values))
    return get_visitor(conn, visitor_id)


def revoke_tokens(conn: Connection, visitor_id: str) -> bool:
    """Every token issued so far stops working; False if there is no such visitor."""
    result = conn.execute(
        update(visitors).where(visitors.c.id == visitor_id).values(token_generation=visitors.c.token_generation + 1)
    )
    return result.rowcount > 0


def touch_visitor(conn: Connection, visitor_id: str, **values: Any) -> None:
    conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(last_seen_at=utcnow(), **values))
