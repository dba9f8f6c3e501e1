"""When a missing event id can no longer appear (PostgreSQL: nodes commit in parallel).

Event ids come from one sequence, but transactions on different nodes commit in any
order: an id missing below a committed one may belong to a transaction still running
(it will appear) or to one rolled back (it never will). No lock orders the commits
(issue 20: one lock serialised every node's writes). Instead PostgreSQL's lock table
says which transactions may still hold an event id:

* a transaction that inserts an event holds a lock on the ``events`` table from before
  its INSERT takes the id until it ends (``RowExclusiveLock``, in ``pg_locks``, which
  every role may read);
* if a read saw event ``top`` committed, every id below ``top`` was taken before that
  read, by a transaction that had committed (the read shows its events), or was
  running or rolled back. Right after the read, the relay notes which transactions hold
  such a lock (a ``Fence``: their virtual transaction ids);
* once none of those runs any more, an id below ``top`` that a later read does not
  show was rolled back: it is final.

Not the snapshot's ``xmin``/``xmax``: ``xmin`` counts every database of the server (a
long transaction of another application would hold delivery up: seen here, on a shared
server) and ``xmax`` is the last *completed* id + 1, so a transaction running since
before it may have a higher id; and ``nextval`` gives a transaction no id of its own.

SQLite needs none of this: one writer at a time, and processes sharing a file take
turns through a file lock (``Database.ordered_transaction``), so a missing id below a
committed one was rolled back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from .db import Database
from .outbox import StoredEvent, events_after, last_event_id

log = logging.getLogger(__name__)

# The transactions that may hold an event id: those granted the lock every INSERT into
# ``events`` takes first (virtual transaction ids: every transaction has one). Not other
# modes: a session holding the table in EXCLUSIVE mode (a test does, to stall a writer)
# takes RowExclusiveLock too once it inserts; and not a request still waiting: it has
# taken no id yet, and any it takes will be above every id committed now.
_RUNNING = text(
    "SELECT virtualtransaction FROM pg_locks WHERE locktype = 'relation' AND relation = 'events'::regclass "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND mode = 'RowExclusiveLock' AND granted"
)
_TOP = text("SELECT coalesce(max(id), 0) FROM events")


def running(conn: Connection) -> frozenset[str]:
    """The transactions that may hold an event id now."""
    return frozenset(conn.execute(_RUNNING).scalars())


@dataclass(frozen=True)
class Page:
    events: list[StoredEvent]
    # PostgreSQL: this database's running transactions just before and just after the read
    # (None on SQLite, where a missing id below a committed one is final).
    before: frozenset[str] | None = None
    after: frozenset[str] | None = None


@dataclass(frozen=True)
class Fence:
    """Every id up to ``top`` is committed or final once none of ``running`` runs."""

    top: int
    running: frozenset[str]

    def passed(self, running_now: frozenset[str]) -> bool:
        return not (self.running & running_now)


def read_after(conn: Connection, dialect: str, after: int, *, limit: int) -> Page:
    """Committed events after ``after`` (up to ``limit``), with the running transactions
    just before the read (what ended by then, it shows) and just after it (a fence)."""
    if dialect != "postgresql":
        return Page(events_after(conn, after, limit=limit))
    before = running(conn)
    found = events_after(conn, after, limit=limit)  # its own statement: a snapshot after ``before``
    return Page(found, before, running(conn))


async def settled_position(db: Database, *, warn_after: float = 5.0) -> int:
    """The highest event id below which no id can appear any more: where a relay starts.

    On PostgreSQL: the highest committed id, once every transaction running when it was
    read has ended (one that took a lower id may still commit). Waits for that."""
    if db.dialect != "postgresql":
        return await db.read(last_event_id)
    top, fence = await db.read(lambda conn: (conn.execute(_TOP).scalar_one(), running(conn)))
    waited = 0.0
    while not Fence(top, fence).passed(await db.read(running)):
        await asyncio.sleep(0.02)
        waited += 0.02
        if waited >= warn_after:  # a long writing transaction in this database
            log.warning("waiting for %d transactions to end before relaying events", len(fence))
            waited = 0.0
    return int(top)
