"""Queries for callback requests, the places taken per slot, attempts, reminders and
operators' calendar feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .leases import PENDING
from .schema import calendar_feeds, callback_attempts, callback_reminders, callback_slots, callbacks, leads, visitors

OPEN = ("requested", "no_answer")  # statuses still waiting for a call


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes that were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Callback:
    id: str
    site_id: int
    visitor_id: str
    client_id: str
    conversation_id: str | None
    phone: str
    name: str | None
    note: str | None
    language: str | None
    visitor_tz: str | None
    slot_start: datetime | None
    due_at: datetime
    status: str
    operator_id: int | None
    created_at: datetime
    updated_at: datetime
    assignee_id: int | None = None  # who is to call (None: whoever is free)

    def public(self) -> dict[str, Any]:
        """As events, webhooks and the API carry it."""
        return {
            "id": self.id, "site_id": self.site_id, "visitor_id": self.visitor_id, "conversation_id": self.conversation_id,
            "phone": self.phone, "name": self.name, "note": self.note, "language": self.language,
            "visitor_tz": self.visitor_tz, "asap": self.slot_start is None, "slot_start": iso(self.slot_start),
            "due_at": iso(self.due_at), "status": self.status, "operator_id": self.operator_id,
            "assignee_id": self.assignee_id,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


def _callback(row: Any) -> Callback:
    return Callback(
        row.id, row.site_id, row.visitor_id, row.client_id, row.conversation_id, row.phone, row.name, row.note,
        row.language, row.visitor_tz, aware(row.slot_start), aware(row.due_at), row.status,  # type: ignore[arg-type]
        row.operator_id, aware(row.created_at), aware(row.updated_at),  # type: ignore[arg-type]
        row.assignee_id,
    )


def get_callback(conn: Connection, callback_id: str) -> Callback | None:
    row = conn.execute(select(callbacks).where(callbacks.c.id == callback_id)).first()
    return _callback(row) if row else None


def find_by_client_id(conn: Connection, site_id: int, client_id: str) -> Callback | None:
    row = conn.execute(
        select(callbacks).where((callbacks.c.site_id == site_id) & (callbacks.c.client_id == client_id))
    ).first()
    return _callback(row) if row else None


def insert_callback(conn: Connection, **values: Any) -> Callback:
    now = utcnow()
    conn.execute(insert(callbacks).values(created_at=now, updated_at=now, **values))
    return get_callback(conn, values["id"])  # type: ignore[return-value]


def update_callback(conn: Connection, callback_id: str, **values: Any) -> Callback | None:
    conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(updated_at=utcnow(), **values))
    return get_callback(conn, callback_id)


def take_place(conn: Connection, site_id: int, slot_start: datetime, capacity: int) -> bool:
    """One more place in the slot if fewer than ``capacity`` are taken. The UPDATE's row
    lock orders concurrent bookings on PostgreSQL (READ COMMITTED re-checks ``taken``
    after the lock is granted); SQLite has one writer at a time."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        dialect_insert(callback_slots).values(site_id=site_id, slot_start=slot_start, taken=0).on_conflict_do_nothing()
    )
    result = conn.execute(
        update(callback_slots)
        .where(
            (callback_slots.c.site_id == site_id) & (callback_slots.c.slot_start == slot_start)
            & (callback_slots.c.taken < capacity)
        )
        .values(taken=callback_slots.c.taken + 1)
    )
    return result.rowcount == 1


def give_back_place(conn: Connection, site_id: int, slot_start: datetime) -> None:
    conn.execute(
        update(callback_slots)
        .where((callback_slots.c.site_id == site_id) & (callback_slots.c.slot_start == slot_start)
               & (callback_slots.c.taken > 0))
        .values(taken=callback_slots.c.taken - 1)
    )


def taken_places(conn: Connection, site_id: int, first: datetime, last: datetime) -> dict[datetime, int]:
    rows = conn.execute(
        select(callback_slots.c.slot_start, callback_slots.c.taken).where(
            (callback_slots.c.site_id == site_id) & (callback_slots.c.slot_start >= first)
            & (callback_slots.c.slot_start <= last) & (callback_slots.c.taken > 0)
        )
    )
    return {aware(r.slot_start): r.taken for r in rows}  # type: ignore[misc]


def places_taken(conn: Connection, site_id: int, slot_start: datetime) -> int:
    value = conn.execute(
        select(callback_slots.c.taken).where(
            (callback_slots.c.site_id == site_id) & (callback_slots.c.slot_start == slot_start)
        )
    ).scalar()
    return int(value or 0)


def list_for_visitor(conn: Connection, visitor_id: str) -> list[Callback]:
    rows = conn.execute(
        select(callbacks)
        .where((callbacks.c.visitor_id == visitor_id) & callbacks.c.status.in_(OPEN))
        .order_by(callbacks.c.due_at)
        .limit(50)
    )
    return [_callback(r) for r in rows]


UNASSIGNED = 0  # ``list_open(assignees=...)``: the callbacks nobody is assigned to


def _user_visitors(site_id: int, user_id: str) -> Any:
    """The visitors (on any device) of the site's leads with this verified user id."""
    lead_ids = select(leads.c.id).where((leads.c.site_id == site_id) & (leads.c.user_id == user_id))
    return select(visitors.c.id).where(visitors.c.lead_id.in_(lead_ids))


def list_for_user(conn: Connection, site_id: int, user_id: str) -> list[Callback]:
    """Open callbacks of a verified user's visitors, whichever browser asked for them."""
    rows = conn.execute(
        select(callbacks)
        .where(callbacks.c.visitor_id.in_(_user_visitors(site_id, user_id)) & callbacks.c.status.in_(OPEN))
        .order_by(callbacks.c.due_at)
        .limit(50)
    )
    return [_callback(r) for r in rows]


def visitor_is_user(conn: Connection, site_id: int, visitor_id: str, user_id: str) -> bool:
    return conn.execute(
        select(visitors.c.id).where((visitors.c.id == visitor_id) & visitors.c.id.in_(_user_visitors(site_id, user_id)))
    ).first() is not None


def list_open(
    conn: Connection, *, until: datetime | None = None, limit: int = 500, site_ids: Any = None,
    assignees: Any = None,
) -> list[Callback]:
    """Callbacks still waiting for a call, soonest first; ``site_ids``: only those sites'
    (an operator limited to some sites), None: every site; ``assignees``: only those
    assigned to these operator ids (``UNASSIGNED`` among them: and nobody's), None: all."""
    where = callbacks.c.status.in_(OPEN)
    if until is not None:
        where = and_(where, callbacks.c.due_at <= until)
    if site_ids is not None:
        where = and_(where, callbacks.c.site_id.in_(sorted(site_ids)))
    if assignees is not None:
        ids = sorted(a for a in assignees if a != UNASSIGNED)
        who = callbacks.c.assignee_id.in_(ids)
        if UNASSIGNED in assignees:
            who = who | callbacks.c.assignee_id.is_(None)
        where = and_(where, who)
    rows = conn.execute(select(callbacks).where(where).order_by(callbacks.c.due_at, callbacks.c.id).limit(limit))
    return [_callback(r) for r in rows]


def visitor_names(conn: Connection, visitor_ids: list[str]) -> dict[str, str | None]:
    if not visitor_ids:
        return {}
    rows = conn.execute(select(visitors.c.id, visitors.c.name).where(visitors.c.id.in_(visitor_ids)))
    return {r.id: r.name for r in rows}


def insert_attempt(conn: Connection, callback_id: str, operator_id: int, outcome: str) -> None:
    conn.execute(
        insert(callback_attempts).values(
            callback_id=callback_id, operator_id=operator_id, outcome=outcome, created_at=utcnow()
        )
    )


def list_attempts(conn: Connection, callback_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    from .schema import operators

    out: dict[str, list[dict[str, Any]]] = {i: [] for i in callback_ids}
    if not callback_ids:
        return out
    rows = conn.execute(
        select(callback_attempts, operators.c.name.label("operator_name"))
        .join(operators, operators.c.id == callback_attempts.c.operator_id)
        .where(callback_attempts.c.callback_id.in_(callback_ids))
        .order_by(callback_attempts.c.id)
    )
    for r in rows:
        out[r.callback_id].append({
            "operator_id": r.operator_id, "operator_name": r.operator_name, "outcome": r.outcome,
            "at": iso(r.created_at),
        })
    return out


def queue_reminder(conn: Connection, callback_id: str, due_at: datetime) -> None:
    """A reminder when the callback falls due (once per due time)."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        dialect_insert(callback_reminders).values(
            callback_id=callback_id, due_at=due_at, status=PENDING, attempts=0, claims=0, next_attempt_at=due_at,
            created_at=utcnow(),
        ).on_conflict_do_nothing()
    )


def reminder_jobs(conn: Connection, ids: list[int]) -> dict[int, tuple[datetime, Callback]]:
    """For the reminder worker: each claimed reminder's due time and its callback."""
    rows = conn.execute(
        select(callback_reminders.c.id.label("reminder_id"), callback_reminders.c.due_at.label("reminder_due"), callbacks)
        .join(callbacks, callbacks.c.id == callback_reminders.c.callback_id)
        .where(callback_reminders.c.id.in_(ids))
    )
    return {r.reminder_id: (aware(r.reminder_due), _callback(r)) for r in rows}  # type: ignore[misc]


def reminder_sent(conn: Connection, reminder_id: int, owner: str, claims: int) -> bool:
    """Mark a claimed reminder done while its lease is still ours: the same transaction
    appends the reminder's event, so a reminder goes out once even if the worker dies
    before it records the outcome (the row is no longer due)."""
    result = conn.execute(
        update(callback_reminders)
        .where((callback_reminders.c.id == reminder_id) & (callback_reminders.c.lease_owner == owner)
               & (callback_reminders.c.claims == claims) & (callback_reminders.c.status == PENDING))
        .values(status="done")
    )
    return result.rowcount == 1


def count_reminders(conn: Connection, callback_id: str) -> int:
    return conn.execute(
        select(func.count()).select_from(callback_reminders).where(callback_reminders.c.callback_id == callback_id)
    ).scalar_one()


def set_feed(conn: Connection, operator_id: int, token_hash: str) -> None:
    conn.execute(delete(calendar_feeds).where(calendar_feeds.c.operator_id == operator_id))
    conn.execute(insert(calendar_feeds).values(operator_id=operator_id, token_hash=token_hash, created_at=utcnow()))


def revoke_feed(conn: Connection, operator_id: int) -> bool:
    return conn.execute(delete(calendar_feeds).where(calendar_feeds.c.operator_id == operator_id)).rowcount == 1


def feed_operator(conn: Connection, token_hash: str) -> int | None:
    return conn.execute(select(calendar_feeds.c.operator_id).where(calendar_feeds.c.token_hash == token_hash)).scalar()


def has_feed(conn: Connection, operator_id: int) -> bool:
    return conn.execute(select(calendar_feeds.c.operator_id).where(calendar_feeds.c.operator_id == operator_id)).first() is not None
