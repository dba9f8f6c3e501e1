"""Callbacks as calendar events: an .ics per callback, and each operator's private feed
of the callbacks still to call (a secret URL, stored as a hash; a new one revokes it)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Iterable

from icalendar import Calendar, Event

from ..store import callbacks as store
from ..store.callbacks import Callback
from ..store.db import Database
from ..store.writer import GroupWriter, Tx
from . import phones

FEED_DAYS_BACK = 7  # a feed keeps the last week's open callbacks (overdue ones stay visible)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _event(callback: Callback, minutes: int, site_name: str, base_url: str) -> Event:
    event = Event()
    event.add("uid", f"callback-{callback.id}@frontdesk")
    event.add("dtstamp", callback.updated_at)
    event.add("dtstart", callback.due_at)  # aware UTC: written as ...Z
    event.add("dtend", callback.due_at + timedelta(minutes=minutes))
    who = callback.name or phones.display(callback.phone)
    event.add("summary", f"☎ {who} — {site_name}")
    lines = [phones.display(callback.phone)]
    if callback.note:
        lines.append(callback.note)  # the visitor's words: icalendar escapes them as TEXT
    if callback.conversation_id:
        lines.append(f"{base_url}/console/#c={callback.conversation_id}")
    event.add("description", "\n".join(lines))
    event.add("location", f"tel:{callback.phone}")
    event.add("url", f"{base_url}/console/callbacks#cb-{callback.id}")
    event.add("status", "CONFIRMED" if callback.status in store.OPEN else "CANCELLED")
    return event


def calendar(items: Iterable[tuple[Callback, int, str]], base_url: str, name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Frontdesk//Callbacks//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for callback, minutes, site_name in items:
        cal.add_component(_event(callback, minutes, site_name, base_url))
    return cal.to_ical()  # type: ignore[no-any-return]


async def new_feed(writer: GroupWriter, operator_id: int) -> str:
    """A new secret feed token for the operator (the old URL stops working)."""
    token = secrets.token_urlsafe(24)
    await writer.run(lambda tx: store.set_feed(tx.conn, operator_id, _hash(token)))
    return token


async def revoke_feed(writer: GroupWriter, operator_id: int) -> bool:
    def job(tx: Tx) -> bool:
        return store.revoke_feed(tx.conn, operator_id)

    return await writer.run(job)


async def feed_owner(db: Database, token: object) -> int | None:
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        return None
    return await db.read(lambda conn: store.feed_operator(conn, _hash(token)))


async def has_feed(db: Database, operator_id: int) -> bool:
    return await db.read(lambda conn: store.has_feed(conn, operator_id))


async def feed_callbacks(db: Database, now: datetime, site_ids: Any = None, operator_id: int | None = None) -> list[Callback]:
    """What a feed lists: the open callbacks from a week ago on, of ``site_ids`` only
    unless None (the feed's operator's sites), and with ``operator_id`` only theirs and
    those nobody has taken yet (not the ones given to a colleague)."""
    assignees = None if operator_id is None else {operator_id, store.UNASSIGNED}
    found = await db.read(lambda conn: store.list_open(conn, limit=1000, site_ids=site_ids, assignees=assignees))
    return [c for c in found if c.due_at >= now - timedelta(days=FEED_DAYS_BACK)]
