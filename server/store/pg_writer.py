"""The writer's transaction on PostgreSQL: a batch in a few round trips, no lock.

Per-statement round trips were PostgreSQL's limit (issue 20: 261 msg/s, ~2.9 ms a
message, seven statements each through SQLAlchemy's greenlet). Here a batch is one
transaction in which

* consecutive jobs that can run in bulk (a job with a ``pg_bulk`` item: a chat message)
  go to their handler together, which runs a fixed number of statements on the asyncpg
  connection for all of them (prepared once per connection by asyncpg's cache);
* every other job runs as it always did, on SQLAlchemy Core (``run_sync``), in the same
  transaction and in submission order;
* the webhook deliveries of all the batch's events are queued in one statement.

A handler may take only a prefix of its items (say, a visitor's first message opens a
conversation: that one is the Core job's to do); the next item then runs on Core and
the handler gets the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, Sequence

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database
from .outbox import StoredEvent
from .webhooks import queue_deliveries

@dataclass(frozen=True)
class Done:
    """What a bulk handler did for one item: the job's result and the events it appended."""

    result: Any
    events: list[StoredEvent]


class BulkItem(Protocol):
    # Handles a prefix of ``items`` (all of the same handler) on the asyncpg connection.
    handler: Callable[[Any, list[Any]], Awaitable[list[Done]]]


class Pending(Protocol):
    job: Any  # a Job; with a ``pg_bulk`` attribute (a BulkItem) when it can run in bulk
    events: list[StoredEvent]


def bulk_item(job: Any) -> BulkItem | None:
    return getattr(job, "pg_bulk", None)


async def run_batch(
    db: Database, batch: Sequence[Pending], work: set[str], new_tx: Callable[[Connection], Any],
    after_commit: Callable[[list[Any]], Awaitable[None]],
) -> list[Any]:
    """Run ``batch`` in one transaction, commit, then ``after_commit(results)``."""
    assert db.engine is not None
    work.clear()  # a batch run again after a rollback starts afresh
    async with db.engine.connect() as conn:
        async with conn.begin():
            raw = (await conn.get_raw_connection()).driver_connection
            await conn.exec_driver_sql("SELECT 1")  # the driver's transaction begins (SQLAlchemy begins lazily)
            results = await _run_jobs(conn, raw, batch, work, new_tx)
            events = [e for p in batch for e in p.events]
            if any(e.site_id is not None for e in events):
                if await conn.run_sync(lambda sync: queue_deliveries(sync, events)):
                    work.add("webhooks")
    await after_commit(results)
    return results


async def _run_jobs(
    conn: AsyncConnection, raw: Any, batch: Sequence[Pending], work: set[str], new_tx: Callable[[Connection], Any]
) -> list[Any]:
    results: list[Any] = []
    i = 0
    while i < len(batch):
        item = bulk_item(batch[i].job)
        if item is None:  # a run of Core jobs: one hand-off to SQLAlchemy for all of them
            j = i
            while j < len(batch) and bulk_item(batch[j].job) is None:
                j += 1
            results += await conn.run_sync(lambda sync: _core(sync, batch[i:j], work, new_tx))
            i = j
            continue
        j = i
        while j < len(batch) and (other := bulk_item(batch[j].job)) is not None and other.handler is item.handler:
            j += 1
        done = await item.handler(raw, [bulk_item(p.job) for p in batch[i:j]])
        for pending, outcome in zip(batch[i:j], done):
            pending.events = outcome.events
            results.append(outcome.result)
        i += len(done)
        if i < j:  # the handler left this one to its Core job
            results += await conn.run_sync(lambda sync: _core(sync, batch[i:i + 1], work, new_tx))
            i += 1
    return results


def _core(conn: Connection, run: Sequence[Pending], work: set[str], new_tx: Callable[[Connection], Any]) -> list[Any]:
    results = []
    for pending in run:
        tx = new_tx(conn)
        results.append(pending.job(tx))
        pending.events = tx.events
        work.update(tx.work)
    return results
