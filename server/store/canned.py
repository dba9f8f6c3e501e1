"""Queries for canned answers: shared ones (operator_id NULL) and each operator's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .schema import canned_answers as canned


@dataclass(frozen=True)
class Canned:
    id: int
    operator_id: int | None
    shortcut: str
    body: str
    updated_at: datetime

    @property
    def shared(self) -> bool:
        return self.operator_id is None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "shortcut": self.shortcut, "body": self.body, "shared": self.shared,
                "updated_at": iso(self.updated_at)}


def _canned(row: Any) -> Canned:
    return Canned(row.id, row.operator_id, row.shortcut, row.body, row.updated_at)


def list_for(conn: Connection, operator_id: int) -> list[Canned]:
    """The shared answers and this operator's own, by shortcut."""
    rows = conn.execute(
        select(canned).where(or_(canned.c.operator_id.is_(None), canned.c.operator_id == operator_id))
        .order_by(canned.c.shortcut, canned.c.id)
    )
    return [_canned(r) for r in rows]


def get(conn: Connection, canned_id: int) -> Canned | None:
    row = conn.execute(select(canned).where(canned.c.id == canned_id)).first()
    return _canned(row) if row else None


def find_shortcut(conn: Connection, operator_id: int | None, shortcut: str) -> Canned | None:
    """The answer with this shortcut in one scope (shared, or one operator's)."""
    owner = canned.c.operator_id.is_(None) if operator_id is None else canned.c.operator_id == operator_id
    row = conn.execute(select(canned).where(and_(owner, canned.c.shortcut == shortcut))).first()
    return _canned(row) if row else None


def insert_canned(conn: Connection, *, operator_id: int | None, shortcut: str, body: str) -> Canned:
    now = utcnow()
    new_id = conn.execute(
        insert(canned).values(operator_id=operator_id, shortcut=shortcut, body=body, created_at=now, updated_at=now)
        .returning(canned.c.id)
    ).scalar_one()
    return Canned(new_id, operator_id, shortcut, body, now)


def update_canned(conn: Connection, canned_id: int, *, shortcut: str, body: str) -> None:
    conn.execute(update(canned).where(canned.c.id == canned_id).values(shortcut=shortcut, body=body, updated_at=utcnow()))


def delete_canned(conn: Connection, canned_id: int) -> None:
    conn.execute(delete(canned).where(canned.c.id == canned_id))
