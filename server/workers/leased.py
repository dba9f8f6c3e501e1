"""The loop every leased worker runs: claim due jobs, work them, record the outcome.

Runs on every node. Jobs are claimed through store/leases.py, so each is worked by one
node at a time; a node that dies holding claims loses nothing: its leases expire and
another node takes the jobs over (counted in ``frontdesk_worker_lease_takeovers_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable

from sqlalchemy import Table, exists, select
from sqlalchemy.engine import Connection

from ..metrics import Metrics
from ..store import leases
from ..store.db import Database, utcnow
from ..store.leases import Claim

log = logging.getLogger(__name__)

# Loads what the claimed jobs need, in one read: {job id: its data} (missing: gone).
Loader = Callable[[Connection, list[int]], dict[int, Any]]
# Works one claimed job; returns (metric label, the job's new column values).
Handler = Callable[[Claim, Any], Awaitable[tuple[str, dict[str, Any]]]]

BACKLOG_EVERY_SECONDS = 1.0  # the gauge's count is one index range scan


class LeasedWorker:
    """Claims due jobs in one statement, loads them in one read, works them concurrently
    (at most ``concurrency`` at a time) and records the outcomes that are ready in one
    transaction: a disk sync per batch, not per job (measured: one per job held a node
    near 110 webhooks/s)."""

    def __init__(
        self, name: str, db: Database, table: Table, load: Loader, handler: Handler, *, owner: str,
        lease_seconds: float, poll_seconds: float, concurrency: int, metrics: Metrics,
    ) -> None:
        self.name = name
        self._db = db
        self._table = table
        self._load = load
        self._handler = handler
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._poll_seconds = poll_seconds
        self._concurrency = concurrency
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], Claim] = {}
        self._outcomes: asyncio.Queue[tuple[Claim, str, dict[str, Any]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name=f"frontdesk-worker-{self.name}"),
            asyncio.create_task(self._record_loop(), name=f"frontdesk-worker-{self.name}-record"),
        ]

    def wake(self) -> None:
        """New jobs were committed here: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; outcomes already known are recorded, jobs still running are
        cancelled and their claims given back (due again at once, on any node)."""
        if not self._tasks:
            return
        claim_loop, record_loop = self._tasks
        self._tasks = []
        claim_loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim_loop
        unfinished = list(self._running.values())
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running.clear()
        record_loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await record_loop
        await self._record(self._ready_outcomes())
        if unfinished:
            try:
                await self._db.transaction(
                    lambda conn: leases.release(conn, self._table, unfinished, owner=self._owner)
                )
            except Exception:  # the leases expire by themselves
                log.warning("%s worker: could not give back %d claims on shutdown", self.name, len(unfinished))

    async def _claim_loop(self) -> None:
        next_backlog = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() >= next_backlog:
                    next_backlog = loop.time() + max(BACKLOG_EVERY_SECONDS, self._poll_seconds)
                    count = await self._db.read(lambda conn: leases.backlog(conn, self._table))
                    self._metrics.outbox_backlog.labels(self.name).set(count)
                self._wake.clear()
                free = self._concurrency - len(self._running)
                claimed = await self._claim(free) if free > 0 else []
                if claimed:
                    ids = [job.id for job in claimed]
                    loaded = await self._db.read(lambda conn: self._load(conn, ids))
                for job in claimed:
                    if job.takeover:
                        self._metrics.lease_takeovers.labels(self.name).inc()
                        log.warning("%s worker: took over job %d after its lease expired", self.name, job.id)
                    task = asyncio.create_task(self._work(job, loaded.get(job.id)))
                    self._running[task] = job
                    task.add_done_callback(self._done)
                if claimed and len(claimed) == free:
                    continue  # there may be more due at once
            except asyncio.CancelledError:
                raise
            except Exception:  # a database blip must not end the worker
                log.exception("%s worker: claiming jobs failed; trying again", self.name)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        if self._tasks:
            self._wake.set()  # a slot is free

    async def _claim(self, limit: int) -> list[Claim]:
        now = utcnow()
        # Most looks find nothing: a read first keeps idle polling off the write lock.
        if not await self._db.read(lambda conn: _any_due(conn, self._table, now)):
            return []
        return await self._db.transaction(
            lambda conn: leases.claim(
                conn, self._table, owner=self._owner, now=now, lease_seconds=self._lease_seconds, limit=limit
            )
        )

    async def _work(self, job: Claim, data: Any) -> None:
        try:
            label, values = await self._handler(job, data)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in a handler: the lease expires and the job is tried again
            log.exception("%s worker: job %d failed unexpectedly", self.name, job.id)
            return
        self._outcomes.put_nowait((job, label, values))

    async def _record_loop(self) -> None:
        while True:
            first = await self._outcomes.get()
            await self._record([first, *self._ready_outcomes()])

    def _ready_outcomes(self) -> list[tuple[Claim, str, dict[str, Any]]]:
        ready = []
        while not self._outcomes.empty():
            ready.append(self._outcomes.get_nowait())
        return ready

    async def _record(self, batch: list[tuple[Claim, str, dict[str, Any]]]) -> None:
        """Outcomes in one transaction; a lease lost meanwhile leaves its row alone."""
        if not batch:
            return
        try:
            finished = await self._db.transaction(
                lambda conn: [
                    leases.finish(conn, self._table, job, owner=self._owner, **values) for job, _, values in batch
                ]
            )
        except Exception:  # the leases expire and the jobs are worked again (receivers de-duplicate)
            log.exception("%s worker: recording %d outcomes failed", self.name, len(batch))
            return
        for (job, label, _), done in zip(batch, finished):
            if not done:
                label = "lease_lost"
                log.warning("%s worker: job %d was taken over before its outcome was recorded", self.name, job.id)
            self._metrics.jobs.labels(self.name, label).inc()


def _any_due(conn: Connection, table: Table, now: object) -> bool:
    return bool(conn.execute(select(exists().where(leases.due(table, now)))).scalar())
