"""The database: one API over SQLite and PostgreSQL; query functions are plain sync code.

Store functions take a SQLAlchemy ``Connection`` and run synchronously. ``read`` and
``transaction`` run them off the event loop: on SQLite in a worker thread with the
stdlib driver (one thread hand-off per call, however many statements it runs), on
PostgreSQL through asyncpg via ``run_sync``. Measured: an async driver per statement
cost ~26 event-loop/thread hand-offs per chat message and capped the relay near 200
messages/s (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..files import private_file

T = TypeVar("T")
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes that were stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is timezone.utc:  # most of them (utcnow): 1.1 µs instead of 2.3, a few a message
        return value.isoformat()[:-6] + "Z"
    if value.tzinfo is None:  # stored as UTC: 0.8 µs instead of 2.9 (a conversation's summary has three)
        return value.isoformat() + "Z"
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


WRITE_LOCK_WAIT = 10.0  # seconds the writer, in a thread, waits for another connection's write lock


class WriteLockBusy(Exception):
    """Another connection holds SQLite's write lock (and the writer would not wait)."""


def _begin_immediate(raw: sqlite3.Connection, wait: float) -> None:
    """BEGIN IMMEDIATE, retried with short sleeps for up to ``wait`` seconds while another
    connection holds the write lock (the writer's connection has no busy timeout of its own,
    so that on the event loop it never sleeps in SQLite); WriteLockBusy if ``wait`` is 0."""
    deadline = time.monotonic() + wait
    pause = 0.001
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            if wait <= 0:
                raise WriteLockBusy() from exc
            if time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


SQLITE_OWN_WAL_PAGES = 1000  # SQLite's default wal_autocheckpoint: the writer's for large batches


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", sqlite_wal_pages: int = 10_000) -> None:
        """``sqlite_wal_pages``: SQLite's ``wal_autocheckpoint`` for the writer's small batches,
        the log's length in pages at which a commit copies it into the database (see
        Settings.sqlite_wal_pages); large batches (saturation) keep SQLite's own 1,000."""
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.sync_engine: Engine | None = None
        self._writer_connection: Connection | None = None  # SQLite: the group-commit writer's own
        self.last_commit_seconds = 0.0  # SQLite: how long the writer's last COMMIT took
        self._wal_pages = sqlite_wal_pages
        self._writer_wal_pages = 0  # the writer connection's wal_autocheckpoint now
        self.engine: AsyncEngine | None = None
        if self.dialect == "sqlite":
            parsed = parsed.set(drivername="sqlite+pysqlite")
            if parsed.database and parsed.database != ":memory:":
                # Made here, 0600 in a 0700 directory: SQLite gives its -wal and -shm files
                # the database file's mode, and would create the file 0644 itself.
                private_file(Path(parsed.database))
            self.url = parsed.render_as_string(hide_password=False)
            self.sync_engine = create_engine(self.url, pool_size=8, max_overflow=8)
            synchronous = sqlite_synchronous.upper()

            @event.listens_for(self.sync_engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={synchronous}")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=10000")
                # Any connection's commit may copy the log back: none at SQLite's own 1,000.
                cursor.execute(f"PRAGMA wal_autocheckpoint={int(sqlite_wal_pages)}")
                cursor.close()
        elif self.dialect == "postgresql":
            self.url = parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
            self.engine = create_async_engine(self.url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        else:
            raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` for reading."""
        if self.sync_engine is not None:
            return await asyncio.to_thread(self._sync_read, fn)
        assert self.engine is not None
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn)

    async def transaction(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in one transaction, committed when it returns."""
        if self.sync_engine is not None:
            return await asyncio.to_thread(self._sync_transaction, fn)
        assert self.engine is not None
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn)

    async def writer_transaction(self, fn: Callable[[Connection], T], *, on_loop: bool = False, large: bool = False) -> T:
        """``transaction`` for the group-commit writer (one transaction at a time): on SQLite
        on a connection it keeps, not one from the pool per batch. Checking one out and
        back in (with its reset) was a fifth of the server's CPU at 100 messages/s, where
        each batch holds one message.

        ``on_loop`` (SQLite): run it here, on the event loop, unless another connection
        holds the write lock (then in a thread, waiting for it). A thread's two hand-offs
        and its fight with the loop for the GIL cost more than a fast disk's sync: chat
        messages written on the loop went 6,768 -> 7,779 a second saturated, and 704 -> 620
        µs of CPU a message at 1,000 a second (docs/benchmarks.md).

        ``large`` (SQLite): a big batch (saturation), whose commit copies the log back into
        the database at SQLite's own 1,000 pages; small ones let it grow to ``sqlite_wal_pages``.
        At 1,000 lone messages a second a checkpoint every 1,000 pages came every ~115
        commits and copied the same hot pages each time (delivery p99 0.65-0.78x with 10,000);
        saturated, a 10,000-page checkpoint paused the writes long enough to double p99."""
        if self.sync_engine is None:
            return await self.transaction(fn)
        pages = SQLITE_OWN_WAL_PAGES if large else self._wal_pages
        if on_loop:
            try:
                return self._sync_writer_transaction(fn, wait=False, wal_pages=pages)
            except WriteLockBusy:
                pass
        return await asyncio.to_thread(self._sync_writer_transaction, fn, wal_pages=pages)

    async def ordered_transaction(
        self, fn: Callable[[Connection], T], after_commit: Callable[[T], Awaitable[None]], *, shared: bool
    ) -> T:
        """``fn`` in one transaction, then ``after_commit(result)``; on a SQLite file that
        other processes write too (``shared``), as one turn of a file lock they all take.

        So on SQLite transactions commit, and their events are published, in one order
        everywhere, and an event id missing below a committed one was rolled back.
        PostgreSQL takes no such lock (nodes commit in parallel, store/pg_writer.py): its
        relays learn which missing ids are final from its lock table (store/event_gaps.py).
        """
        if not shared or self.sync_engine is None:
            result = await self.writer_transaction(fn)
            await after_commit(result)
            return result
        lock = await asyncio.to_thread(self._lock_sqlite_writes)
        try:
            result = await asyncio.to_thread(self._sync_writer_transaction, fn)
            await after_commit(result)
            return result
        finally:
            os.close(lock)  # closing the descriptor releases the lock

    def _lock_sqlite_writes(self) -> int:
        path = make_url(self.url).database or ""
        fd = os.open(path + ".write-lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    async def connection(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` on a connection that manages its own transactions (migrations)."""
        if self.sync_engine is not None:
            return await asyncio.to_thread(self._sync_connection, fn)
        assert self.engine is not None
        async with self.engine.connect() as conn:
            result = await conn.run_sync(fn)
            await conn.commit()
            return result

    def _sync_read(self, fn: Callable[[Connection], T]) -> T:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn:
            return fn(conn)

    def _sync_transaction(self, fn: Callable[[Connection], T]) -> T:
        assert self.sync_engine is not None
        with self.sync_engine.begin() as conn:
            return fn(conn)

    def _writer(self) -> Connection:
        assert self.sync_engine is not None
        conn = self._writer_connection
        if conn is None or conn.closed or conn.invalidated:
            conn = self.sync_engine.connect()
            conn.detach()  # its own: the driver settings below never reach a pooled connection
            raw = conn.connection.dbapi_connection
            raw.isolation_level = None  # the writer begins its transactions itself (IMMEDIATE)
            raw.execute("PRAGMA busy_timeout=0")  # never block the loop: _begin_immediate waits
            self._writer_wal_pages = self._wal_pages  # as every connection starts (the connect pragma)
            self._writer_connection = conn
        return conn

    def _sync_writer_transaction(self, fn: Callable[[Connection], T], *, wait: bool = True, wal_pages: int = 0) -> T:
        """``fn`` in one transaction on the writer's connection, which takes the write lock
        at its start (BEGIN IMMEDIATE): its statements then never wait for another writer,
        and a read never has to be upgraded to a write that another commit made stale.
        ``wait`` False: raise WriteLockBusy at once if another connection holds the lock.
        ``wal_pages``: the log's length at which this commit copies it back (0: as set last)."""
        conn = self._writer()
        raw = conn.connection.dbapi_connection
        if wal_pages and wal_pages != self._writer_wal_pages:
            raw.execute(f"PRAGMA wal_autocheckpoint={int(wal_pages)}")
            self._writer_wal_pages = wal_pages
        with conn.begin():
            _begin_immediate(raw, WRITE_LOCK_WAIT if wait else 0.0)
            result = fn(conn)
            committing = time.perf_counter()
        self.last_commit_seconds = time.perf_counter() - committing
        return result

    def _sync_connection(self, fn: Callable[[Connection], T]) -> T:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn:
            result = fn(conn)
            conn.commit()
            return result

    async def ping(self) -> None:
        await self.read(lambda conn: conn.execute(text("SELECT 1")).scalar_one())

    async def close(self) -> None:
        if self._writer_connection is not None:
            self._writer_connection.close()
            self._writer_connection = None
        if self.sync_engine is not None:
            self.sync_engine.dispose()
        if self.engine is not None:
            await self.engine.dispose()
