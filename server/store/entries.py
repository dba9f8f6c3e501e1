"""Queries for conversation entries: private notes and system lines (assigned, closed, …).

Entries belong to the operators' side of a conversation: nothing here is ever read for a
visitor (the visitor's thread is ``messages`` only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .schema import conversation_entries as entries

NOTE = "note"
ASSIGNED = "assigned"
TRANSFERRED = "transferred"
UNASSIGNED = "unassigned"
CLOSED = "closed"
REOPENED = "reopened"


@dataclass(frozen=True)
class Entry:
    id: int
    conversation_id: str
    kind: str
    after_seq: int
    actor_kind: str
    actor_id: int | None
    actor_name: str | None
    target_id: int | None
    target_name: str | None
    body: str | None
    client_id: str | None
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "after_seq": self.after_seq,
            "actor": {"kind": self.actor_kind, "id": self.actor_id, "name": self.actor_name},
            "target": {"id": self.target_id, "name": self.target_name} if self.target_id is not None else None,
            "body": self.body,
            "client_id": self.client_id,
            "created_at": iso(self.created_at),
        }


_COLUMNS = (
    "id", "conversation_id", "kind", "after_seq", "actor_kind", "actor_id", "actor_name", "target_id", "target_name",
    "body", "client_id", "created_at",
)


def _entry(row: Any) -> Entry:
    return Entry(*(getattr(row, c) for c in _COLUMNS))


def insert_entry(conn: Connection, **values: Any) -> Entry:
    values.setdefault("created_at", utcnow())
    for name in ("actor_id", "actor_name", "target_id", "target_name", "body", "client_id"):
        values.setdefault(name, None)
    new_id = conn.execute(insert(entries).values(**values).returning(entries.c.id)).scalar_one()
    return Entry(**{**values, "id": new_id})


def find_by_client_id(conn: Connection, conversation_id: str, client_id: str) -> Entry | None:
    row = conn.execute(
        select(entries).where(and_(entries.c.conversation_id == conversation_id, entries.c.client_id == client_id))
    ).first()
    return _entry(row) if row else None


def list_entries(conn: Connection, conversation_id: str, *, limit: int = 1000) -> list[Entry]:
    rows = conn.execute(
        select(entries).where(entries.c.conversation_id == conversation_id).order_by(entries.c.id).limit(limit)
    )
    return [_entry(r) for r in rows]
