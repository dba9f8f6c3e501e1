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
from contextlib import AbstractContextManager
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
            self._raw = self.conn.connection.dbapi_connection
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
J = TypeVar("J", bound=Callable[..., Any])


def on_loop(job: J) -> J:
    """Marks ``job`` as a few statements of the hot path (a read mark, a page view; chat
    messages are MessageJobs): a batch of only such jobs may be written on the event loop."""
    job.on_loop = True  # type: ignore[attr-defined]
    return job

# A job may also have ``run_together(tx, jobs) -> [(result, events), ...]``: the writer then
# hands it the run of such jobs next to it in a batch (the same function), to be written
# with a few statements for all of them (chat messages: services/chat_batch.py). It
# returns the results of a leading part of them; the next one then runs alone, and
# grouping resumes after it. Alone (a batch retried job by job) a job is just called.
OnCommit = Callable[[list[StoredEvent]], Awaitable[None]]
_LARGE_BATCH = 16  # SQLite: a batch this big means saturation (Database.writer_transaction's ``large``)


@dataclass
class _Pending(Generic[T]):
    job: Job[T]
    future: asyncio.Future[T]
    events: list[StoredEvent] = field(default_factory=list)


def _together(batch: list[_Pending[Any]], start: int) -> list[_Pending[Any]]:
    """The run of jobs from ``start`` that share one ``run_together`` (one, if it has none)."""
    key = getattr(batch[start].job, "run_together", None)
    end = start + 1
    if key is not None:
        while end < len(batch) and getattr(batch[end].job, "run_together", None) == key:
            end += 1
    return batch[start:end]


class GroupWriter:
    def __init__(
        self, db: Database, *, max_batch: int = 256, on_commit: OnCommit | None = None,
        metrics: Metrics | None = None, shared: bool = False, on_work: Callable[[set[str]], None] | None = None,
        hold: float = 0.0, cork: AbstractContextManager[Any] | None = None, on_loop_below: float = 0.002,
    ) -> None:
        """``shared``: other processes write to this database too (a Redis hub); on a
        shared SQLite file commits and their publication take turns with them
        (Database.ordered_transaction); on PostgreSQL nodes commit in parallel.
        ``on_work``: called after a commit that queued jobs, with the names of the workers
        that have new work ("webhooks" for deliveries; a job adds others to ``tx.work``).
        ``hold``: how long a lone job may wait for others at moderate load (0: never;
        FRONTDESK_COMMIT_HOLD_MS).
        ``cork``: held while a batch's futures resolve, released once their callbacks ran:
        the acks a socket gets from one batch go in one write (realtime/cork.py).
        ``on_loop_below``: SQLite in one process: a batch of ``on_loop`` jobs is written on
        the event loop while commits take less than this many seconds on average (0: never;
        FRONTDESK_COMMIT_ON_LOOP_MS)."""
        self._db = db
        self._max_batch = min(max_batch, pg_writer.MAX_BATCH) if db.dialect == "postgresql" else max_batch
        self._on_commit = on_commit
        self._metrics = metrics
        self._shared = shared
        self._on_work = on_work
        self._queue: asyncio.Queue[_Pending[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._hold = hold
        self._loop_commit_limit = on_loop_below
        self.sync_seconds = 0.0  # SQLite: how long a small batch's commit takes, a moving average
        self._cork = cork
        self._publishing: asyncio.Future[None] | None = None  # the last committed batch's publication
        self._pg_conn = pg_writer.WriterConnection(db)  # PostgreSQL: the writer's own connection
        self._gap = 0.1  # seconds between submitted jobs, a moving average
        self._last_submit = 0.0
        self.batches = 0
        self.writes = 0
        self.held = 0  # batches that waited for company

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
        await self.published()  # committed writes are still published and acked
        await self._pg_conn.drop()

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job[T]) -> asyncio.Future[T]:
        """Queue ``job`` for the next batch now; the future resolves after its commit.

        Jobs are committed in the order they were submitted.
        """
        if self._task is None:
            raise RuntimeError("writer is not started")
        loop = asyncio.get_running_loop()
        now = loop.time()
        # A moving average of the gaps between jobs over ~32 of them, so a short burst at
        # low load does not make the next lone jobs wait (a long pause counts as 0.1 s:
        # at 1,000 jobs/s the average falls under the hold's threshold within ~0.12 s).
        self._gap += (min(now - self._last_submit, 0.1) - self._gap) / 32
        self._last_submit = now
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put_nowait(_Pending(job, future))
        return future

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next committed batch; returns after the commit."""
        return await asyncio.shield(self.submit(job))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._take_waiting(batch)
            if len(batch) == 1 and self._gap < 2 * self._hold:
                # Moderate load: jobs come less than 2 ms apart on average, yet not fast
                # enough to queue up behind a commit, so each would be committed alone
                # (at 1,000 msg/s batches held 1.3 jobs). A lone job waits up to ``hold``
                # for company: fewer, bigger commits for at most that much latency. Below
                # ~500 jobs/s nothing waits (a lone job would most likely stay alone).
                await asyncio.sleep(self._hold)
                self._take_waiting(batch)
                self.held += 1
            await self._commit(batch)

    def _take_waiting(self, batch: list[_Pending[Any]]) -> None:
        while len(batch) < self._max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _commit(self, batch: list[_Pending[Any]]) -> None:
        """Commit ``batch``; then publish its events and resolve its futures (the acks).

        SQLite in one process, a batch written in a thread: the publication is a task of its
        own, after the previous batch's, and the next batch's transaction starts at once, so
        the next disk sync overlaps this batch's fan-out and acks (the loop's work) instead
        of following it. A batch written on the loop is published before the next one starts.
        PostgreSQL like a thread's batch (nodes commit in parallel; each node's relay delivers
        in event-id order whatever the order of publications): the next batch's round trips
        overlap this one's fan-out and Redis publish."""
        pipelined = self._db.engine is not None or not self._shared
        try:
            results, work, on_loop = await self._transaction(batch, None if pipelined else self._publish)
        except Exception as exc:
            await self.published()  # what came before goes out first
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            # Isolate the failing job: each one alone in its own transaction.
            for pending in batch:
                await self._commit([pending])
                await self.published()
            return
        self.batches += 1
        self.writes += len(batch)
        if self._metrics is not None:
            self._metrics.commits.inc()
            self._metrics.writes.inc(len(batch))
        if pipelined and on_loop and (self._publishing is None or self._publishing.done()):
            # Written on the event loop: the commit overlapped nothing, so publishing later
            # gains nothing, and a batch queued meanwhile would be committed (another disk
            # sync) before this one's fan-out: p99 at 1,000 msg/s 5.19 -> 4.34 ms. (In this
            # task: the in-process fan-out never suspends, so stop() cannot cut it short.)
            await self._finish(None, batch, results, work)
        elif pipelined:
            self._publishing = asyncio.ensure_future(self._finish(self._publishing, batch, results, work))
        else:
            self._resolve(batch, results)

    async def published(self) -> None:
        """Wait until every committed batch is published and acked."""
        while self._publishing is not None and not self._publishing.done():
            await asyncio.shield(self._publishing)

    async def _finish(
        self, previous: asyncio.Future[None] | None, batch: list[_Pending[Any]], results: list[Any], work: set[str]
    ) -> None:
        if previous is not None and not previous.done():
            await previous
        # One cork over the fan-out and the acks: a visitor's socket gets its messages'
        # echoes and their acks in one write (the in-process fan-out does not suspend).
        if self._cork is not None:
            self._cork.__enter__()
        try:
            await self._publish(batch)
            if work and self._on_work is not None:
                self._on_work(set(work))
        finally:
            self._resolve(batch, results)
            if self._cork is not None:
                self._cork.__exit__(None, None, None)  # released after the acks (_resolve)

    def _resolve(self, batch: list[_Pending[Any]], results: list[Any]) -> None:
        if self._cork is not None:
            # Futures run their callbacks (the acks) soon, in order: the release comes after them.
            self._cork.__enter__()
            asyncio.get_running_loop().call_soon(self._cork.__exit__, None, None, None)
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

    def _on_loop(self, batch: list[_Pending[Any]]) -> bool:
        """Whether ``batch`` is written on the event loop (SQLite in one process): only jobs of
        the hot path's few statements (``on_loop``), and only while commits are quick. A slow
        disk's sync, or a job that may rebuild an index, would stall every socket meanwhile."""
        return self.sync_seconds < self._loop_commit_limit and all(
            getattr(p.job, "on_loop", False) for p in batch
        )

    async def _transaction(
        self, batch: list[_Pending[Any]], publish: Callable[[list[_Pending[Any]]], Awaitable[None]] | None
    ) -> tuple[list[Any], set[str], bool]:
        """Run and commit ``batch``; with ``publish``, publish it before returning (in turn
        with other processes on a shared SQLite file). Returns the results, the names of the
        workers with new work, and whether the batch was for the event loop (it went to a
        thread only if another connection held the write lock)."""
        dialect = self._db.dialect
        work: set[str] = set()
        on_loop = False

        def run_batch(conn: Connection) -> list[Any]:
            work.clear()  # a batch run again after a rollback starts afresh
            results: list[Any] = []
            i = 0
            while i < len(batch):
                together = _together(batch, i)
                if len(together) > 1:  # jobs of one kind next to each other: written as one
                    tx = Tx(conn, dialect)
                    done = together[0].job.run_together(tx, [p.job for p in together])
                    for pending, (result, events) in zip(together, done):
                        results.append(result)
                        pending.events = events
                    work.update(tx.work)
                    i += len(done)
                    if len(done) == len(together):
                        continue
                pending = batch[i]  # alone: any other job, or the first the group left
                tx = Tx(conn, dialect)
                results.append(pending.job(tx))
                pending.events = tx.events
                work.update(tx.work)
                i += 1
            if queue_deliveries(conn, [e for p in batch for e in p.events]):
                work.add("webhooks")
            return results

        async def after_commit(_: list[Any]) -> None:
            if publish is not None:
                await publish(batch)
                if work and self._on_work is not None:
                    self._on_work(set(work))

        if self._db.engine is not None:  # PostgreSQL: bulk jobs on the driver, no lock (store/pg_writer.py)
            results = await pg_writer.run_batch(self._pg_conn, batch, work, lambda conn: Tx(conn, dialect), after_commit)
        elif publish is None:
            on_loop = self._on_loop(batch)
            results = await self._db.writer_transaction(run_batch, on_loop=on_loop, large=len(batch) >= _LARGE_BATCH)
            if len(batch) <= 4:
                # The disk's sync, a moving average over ~16 commits: of small batches only,
                # as a big one's commit also writes its many pages (3-4 ms a commit here,
                # saturated, on a disk that syncs in 0.4).
                self.sync_seconds += (self._db.last_commit_seconds - self.sync_seconds) / 16
            if self._metrics is not None:
                self._metrics.commits_on_loop.inc(on_loop)
                self._metrics.commit_seconds.set(self.sync_seconds)
        else:
            results = await self._db.ordered_transaction(run_batch, after_commit, shared=self._shared)
        return results, work, on_loop
