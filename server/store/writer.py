"""One writer per node: commits whatever is waiting in one transaction (group commit).

A disk sync per message caps a durable relay at a small fraction of what sockets carry;
batching the waiting writes into one transaction keeps "stored before acked" at a
fraction of the cost. Jobs are functions of a transaction; a batch in which any job
fails is rolled back and its jobs are run again one transaction each, so one bad write
only fails itself. Jobs must therefore be safe to run again after a rollback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, TypeVar

from sqlalchemy.engine import Connection

from ..metrics import Metrics
from . import pg_writer
from .db import Database
from .outbox import StoredEvent, insert_event, insert_event_raw
from .webhooks import queue_deliveries

log = logging.getLogger(__name__)
T = TypeVar("T")


class Tx:
    """What a job gets: the connection, and a way to append events to the outbox."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.events: list[StoredEvent] = []
        self.work: set[str] = set()  # workers with new jobs from this transaction ("emails")
        self._raw: Any = None

    @property
    def raw(self) -> Any:
        """SQLite only: the stdlib sqlite3 connection under ``conn``, in the same transaction,
        for the few statements on the hottest path (a chat message); None on PostgreSQL."""
        if self._raw is None and self.dialect == "sqlite":
            self._raw = self.conn.connection.driver_connection
        return self._raw

    def append_event(
        self, type: str, payload: dict[str, Any], *, site_id: int | None = None, conversation_id: str | None = None
    ) -> StoredEvent:
        raw = self.raw
        if raw is not None:
            stored = insert_event_raw(raw, type, payload, site_id=site_id, conversation_id=conversation_id)
        else:
            stored = insert_event(self.conn, type, payload, site_id=site_id, conversation_id=conversation_id)
        self.events.append(stored)
        return stored


Job = Callable[[Tx], T]
OnCommit = Callable[[list[StoredEvent]], Awaitable[None]]


@dataclass
class _Pending(Generic[T]):
    job: Job[T]
    future: asyncio.Future[T]
    events: list[StoredEvent] = field(default_factory=list)


class GroupWriter:
    def __init__(
        self, db: Database, *, max_batch: int = 256, on_commit: OnCommit | None = None,
        metrics: Metrics | None = None, shared: bool = False, on_work: Callable[[set[str]], None] | None = None,
    ) -> None:
        """``shared``: other processes write to this database too (a Redis hub); on a
        shared SQLite file commits and their publication take turns with them
        (Database.ordered_transaction); on PostgreSQL nodes commit in parallel.
        ``on_work``: called after a commit that queued jobs, with the names of the workers
        that have new work ("webhooks" for deliveries; a job adds others to ``tx.work``)."""
        self._db = db
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._metrics = metrics
        self._shared = shared
        self._on_work = on_work
        self._queue: asyncio.Queue[_Pending[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.writes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frontdesk-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue ``job`` for the next batch now; the future resolves after its commit.

        Jobs are committed in the order they were submitted.
        """
        if self._task is None:
            raise RuntimeError("writer is not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(job, future))
        return future

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next committed batch; returns after the commit."""
        return await asyncio.shield(self.submit(job))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending[Any]]) -> None:
        try:
            results = await self._transaction(batch, self._publish)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            # Isolate the failing job: each one alone in its own transaction.
            for pending in batch:
                await self._commit([pending])
            return
        self.batches += 1
        self.writes += len(batch)
        if self._metrics is not None:
            self._metrics.commits.inc()
            self._metrics.writes.inc(len(batch))
        for pending, result in zip(batch, results):
            if not pending.future.done():
                pending.future.set_result(result)

    async def _publish(self, batch: list[_Pending[Any]]) -> None:
        events = [e for p in batch for e in p.events]
        if events and self._on_commit is not None:
            try:
                await self._on_commit(events)
            except Exception:  # live delivery failing must not un-ack a stored write
                log.exception("publishing committed events failed")

    async def _transaction(
        self, batch: list[_Pending[Any]], publish: Callable[[list[_Pending[Any]]], Awaitable[None]]
    ) -> list[Any]:
        dialect = self._db.dialect
        work: set[str] = set()

        def run_batch(conn: Connection) -> list[Any]:
            work.clear()  # a batch run again after a rollback starts afresh
            results = []
            for pending in batch:
                tx = Tx(conn, dialect)
                results.append(pending.job(tx))
                pending.events = tx.events
                work.update(tx.work)
            if queue_deliveries(conn, [e for p in batch for e in p.events]):
                work.add("webhooks")
            return results

        async def after_commit(_: list[Any]) -> None:
            await publish(batch)
            if work and self._on_work is not None:
                self._on_work(set(work))

        if self._db.engine is not None:  # PostgreSQL: bulk jobs on the driver, no lock (store/pg_writer.py)
            return await pg_writer.run_batch(self._db, batch, work, lambda conn: Tx(conn, dialect), after_commit)
        return await self._db.ordered_transaction(run_batch, after_commit, shared=self._shared)
