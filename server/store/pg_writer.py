"""The writer's transaction on PostgreSQL: a batch in a few round trips, no lock.

Per-statement round trips were PostgreSQL's limit (issue 20: 261 msg/s, ~2.9 ms a
message, seven statements each through SQLAlchemy's greenlet). Here a batch is one
transaction in which

* consecutive jobs that can run in bulk (a job with a ``pg_bulk`` item: a chat message)
  go to their handler together, which runs a fixed number of statements on the asyncpg
  connection for all of them (prepared once per connection by asyncpg's cache);
* every other job runs as it always did, on SQLAlchemy Core (``run_sync``), in the same
  transaction and in submission order;
* the webhook deliveries of the events a handler did not queue itself (in its own
  statement) are queued in one statement.

A batch takes four round trips in the usual case (issue 20; there were nine): BEGIN, the
handler's two statements, COMMIT. A batch of nothing but bulk jobs of one handler is first
offered to that handler outside any transaction (``one_statement``): it may write all of them in
one statement (one round trip, atomic by itself) or nothing, and then the batch runs as
above. The writer keeps its connection between batches (a pool
checkout pings the server first: BEGIN, a query and ROLLBACK), and the transaction is
begun by the driver adapter itself rather than by a first query.

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

# The most jobs in one batch on PostgreSQL, whatever the writer's own limit: a long queue's
# first messages are acked after a shorter statement, and the node's loop publishes and
# acks one batch while PostgreSQL writes the next. The saturated benchmark (docs/
# benchmarks.md, "the batch cap"): 48-64 ran ~1.06x the rate of 256 in the same rounds,
# 24 ~0.8x (a commit for every 24 messages).
MAX_BATCH = 64


@dataclass(frozen=True)
class Done:
    """What a bulk handler did for one item: the job's result and the events it appended;
    ``queued``: their webhook deliveries are queued already (``deliveries`` of them, counted
    on one item of the handler's run)."""

    result: Any
    events: list[StoredEvent]
    queued: bool = False
    deliveries: int = 0


class WriterConnection:
    """The writer's own connection, kept between batches (one writer per node). Dropped
    after a failed batch: the next one checks a fresh one out of the pool (pinged).

    Its prepared statements are planned again after 16, 32, 64, ... batches. PostgreSQL
    settles a prepared statement on a generic plan after five executions, made for the
    tables as they were then; autovacuum's ANALYZE would replace it, but without autovacuum
    (or before its first pass) a plan made while ``messages`` was nearly empty hashed the
    whole table once a batch, for good. Planning every execution instead cost PostgreSQL
    ~40 % of its time on the write path (issue 20); planning again as the batches double
    keeps each generic plan within about twice the tables' size it was made for."""

    _FIRST_REPLAN = 16

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: AsyncConnection | None = None
        self._batches = 0
        self._replan_at = self._FIRST_REPLAN
        # What the handlers keep between batches (services/pg_chat.py: the conversations
        # as this node last wrote them); forgotten with the connection after a failed batch.
        self.memo: dict[str, Any] = {}

    async def get(self) -> AsyncConnection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            assert self._db.engine is not None
            conn = self._conn = await self._db.engine.connect()
            self._batches, self._replan_at = 0, self._FIRST_REPLAN
        self._batches += 1
        if self._batches == self._replan_at:
            self._replan_at *= 2
            # Drops the driver's statement cache (this connection only: SQLAlchemy pools
            # it, not asyncpg); its statements are prepared and planned again.
            await (await conn.get_raw_connection()).driver_connection.reload_schema_state()
        return conn

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        self.memo.clear()
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: the pool discards it
                await conn.invalidate()


class BulkItem(Protocol):
    # ``handler(raw, items, memo, one_statement)`` handles a prefix of ``items`` (all of the same
    # handler) on the asyncpg connection, in the writer's transaction; ``one_statement``: with no
    # transaction open, all of them in one statement (their webhook deliveries queued in
    # it too), or nothing and None.
    handler: Callable[[Any, list[Any], dict[str, Any], bool], Awaitable[list[Done] | None]]


class Pending(Protocol):
    job: Any  # a Job; with a ``pg_bulk`` attribute (a BulkItem) when it can run in bulk
    events: list[StoredEvent]


def bulk_item(job: Any) -> BulkItem | None:
    return getattr(job, "pg_bulk", None)


async def run_batch(
    held: WriterConnection, batch: Sequence[Pending], work: set[str], new_tx: Callable[[Connection], Any],
    after_commit: Callable[[list[Any]], Awaitable[None]],
) -> list[Any]:
    """Run ``batch`` in one statement or one transaction, commit, then ``after_commit(results)``."""
    work.clear()  # a batch run again after a rollback starts afresh
    conn = await held.get()
    items = [bulk_item(p.job) for p in batch]  # made once: a job's item is built on each access
    try:
        results = await _one_statement(conn, batch, items, work, held.memo)
        if results is None:
            async with conn.begin():
                fairy = await conn.get_raw_connection()
                await _begin(conn, fairy.dbapi_connection)
                results, queued = await _run_jobs(conn, fairy.driver_connection, batch, items, work, new_tx, held.memo)
                events = [e for p in batch for e in p.events if e.id not in queued]
                if any(e.site_id is not None for e in events):
                    if await conn.run_sync(lambda sync: queue_deliveries(sync, events)):
                        work.add("webhooks")
    except BaseException:
        await held.drop()
        raise
    await after_commit(results)
    return results


async def _one_statement(
    conn: AsyncConnection, batch: Sequence[Pending], items: list[BulkItem | None], work: set[str],
    memo: dict[str, Any],
) -> list[Any] | None:
    """A batch of one handler's items, written by it in one statement; None: not written."""
    first = items[0]
    if first is None or any(item is None or item.handler is not first.handler for item in items):
        return None
    raw = (await conn.get_raw_connection()).driver_connection
    done = await first.handler(raw, items, memo, True)
    if done is None:
        return None
    assert len(done) == len(batch), "one statement writes all of the batch or none of it"
    results: list[Any] = []
    _record(batch, done, results, set(), work)
    return results


def _record(run: Sequence[Pending], done: list[Done], results: list[Any], queued: set[int], work: set[str]) -> None:
    """A handler's outcomes for the leading jobs of ``run``."""
    for pending, outcome in zip(run, done):
        pending.events = outcome.events
        results.append(outcome.result)
        if outcome.queued:
            queued.update(e.id for e in outcome.events)
        if outcome.deliveries:
            work.add("webhooks")


async def _begin(conn: AsyncConnection, adapter: Any) -> None:
    """Start the driver's transaction now (SQLAlchemy's asyncpg adapter begins lazily, at
    the first statement through it; the bulk handlers use the driver directly). The
    adapter's own BEGIN, one round trip; a first query costs two."""
    start = getattr(adapter, "_start_transaction", None)
    if start is not None and getattr(adapter, "_transaction", "unknown") is None:
        await start()
    else:  # another SQLAlchemy version: a first query begins it
        await conn.exec_driver_sql("SELECT 1")


async def _run_jobs(
    conn: AsyncConnection, raw: Any, batch: Sequence[Pending], items: list[BulkItem | None], work: set[str],
    new_tx: Callable[[Connection], Any], memo: dict[str, Any],
) -> tuple[list[Any], set[int]]:
    """The batch's results, and the ids of the events whose webhook deliveries are queued."""
    results: list[Any] = []
    queued: set[int] = set()
    i = 0
    while i < len(batch):
        item = items[i]
        if item is None:  # a run of Core jobs: one hand-off to SQLAlchemy for all of them
            j = i
            while j < len(batch) and items[j] is None:
                j += 1
            results += await conn.run_sync(lambda sync: _core(sync, batch[i:j], work, new_tx))
            i = j
            continue
        j = i
        while j < len(batch) and (other := items[j]) is not None and other.handler is item.handler:
            j += 1
        done = await item.handler(raw, items[i:j], memo, False)
        assert done is not None  # in a transaction a handler takes a prefix, maybe empty
        _record(batch[i:j], done, results, queued, work)
        i += len(done)
        if i < j:  # the handler left this one to its Core job
            results += await conn.run_sync(lambda sync: _core(sync, batch[i:i + 1], work, new_tx))
            i += 1
    return results, queued


def _core(conn: Connection, run: Sequence[Pending], work: set[str], new_tx: Callable[[Connection], Any]) -> list[Any]:
    results = []
    for pending in run:
        tx = new_tx(conn)
        results.append(pending.job(tx))
        pending.events = tx.events
        work.update(tx.work)
    return results
