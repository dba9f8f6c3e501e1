"""The events table: appended inside a change's transaction, read to resume."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from .. import json_text
from .db import utcnow
from .schema import events


@dataclass(frozen=True)
class StoredEvent:
    id: int
    type: str
    site_id: int | None
    conversation_id: str | None
    payload: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        """The event as consoles see it (``site_id``: so a console of an operator limited
        to some sites can leave the others' out)."""
        return {"event_id": self.id, "type": self.type, "site_id": self.site_id, **self.payload}


_INSERT = insert(events).returning(events.c.id)  # built once: it is on every write's path


def insert_event(
    conn: Connection, type: str, payload: dict[str, Any], *, site_id: int | None, conversation_id: str | None
) -> StoredEvent:
    result = conn.execute(
        _INSERT,
        {
            "type": type,
            "site_id": site_id,
            "conversation_id": conversation_id,
            "payload": json_text.dumps(payload),
            "created_at": utcnow(),
        },
    )
    return StoredEvent(result.scalar_one(), type, site_id, conversation_id, payload)


_RAW_INSERT = "INSERT INTO events (type, site_id, conversation_id, payload, created_at) VALUES (?, ?, ?, ?, ?)"


def insert_event_raw(
    raw: Any, type: str, payload: dict[str, Any], *, site_id: int | None, conversation_id: str | None
) -> StoredEvent:
    """``insert_event`` on the stdlib sqlite3 connection (SQLite): the same row, a fraction
    of SQLAlchemy's CPU, prepared once by the driver's statement cache."""
    cursor = raw.execute(_RAW_INSERT, (
        type, site_id, conversation_id, json_text.dumps(payload),
        utcnow().strftime("%Y-%m-%d %H:%M:%S.%f"),
    ))
    return StoredEvent(cursor.lastrowid, type, site_id, conversation_id, payload)


EventRow = tuple[str, dict[str, Any], "int | None", "str | None"]  # type, payload, site_id, conversation_id


def insert_events_raw_many(raw: Any, rows: list[EventRow]) -> list[StoredEvent]:
    """Several events in order with one ``executemany`` (SQLite, on the driver).

    Their ids are the last inserted id and the ones just below it: in one write
    transaction SQLite gives each new row one more than the largest id before it (also with
    AUTOINCREMENT), so consecutive inserts get consecutive ids, in the order given. (A
    trigger's inserts do not change ``last_insert_rowid()`` once the trigger ends.)"""
    if not rows:
        return []
    now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
    raw.executemany(_RAW_INSERT, [
        (type, site_id, conversation_id, json_text.dumps(payload), now)
        for type, payload, site_id, conversation_id in rows
    ])
    last = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
    first = last - len(rows) + 1
    return [
        StoredEvent(first + i, type, site_id, conversation_id, payload)
        for i, (type, payload, site_id, conversation_id) in enumerate(rows)
    ]


def event_from_row(row: Any, event_id: int) -> StoredEvent:
    """A stored event from a row of ``events`` columns (``event_id``: its id, however labelled)."""
    return StoredEvent(event_id, row.type, row.site_id, row.conversation_id, json.loads(row.payload))


def events_after(conn: Connection, after_id: int, *, limit: int = 1000, upto: int | None = None) -> list[StoredEvent]:
    """Stored events after ``after_id`` (and up to ``upto``, if given), in id order."""
    query = select(events).where(events.c.id > after_id)
    if upto is not None:
        query = query.where(events.c.id <= upto)
    rows = conn.execute(query.order_by(events.c.id).limit(limit))
    return [event_from_row(r, r.id) for r in rows]


def last_event_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
