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
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.sync_engine: Engine | None = None
        self._writer_connection: Connection | None = None  # SQLite: the group-commit writer's own
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

    async def writer_transaction(self, fn: Callable[[Connection], T]) -> T:
        """``transaction`` for the group-commit writer (one transaction at a time): on SQLite
        on a connection it keeps, not one from the pool per batch. Checking one out and
        back in (with its reset) was a fifth of the server's CPU at 100 messages/s, where
        each batch holds one message."""
        if self.sync_engine is None:
            return await self.transaction(fn)
        return await asyncio.to_thread(self._sync_writer_transaction, fn)

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

    def _sync_writer_transaction(self, fn: Callable[[Connection], T]) -> T:
        assert self.sync_engine is not None
        conn = self._writer_connection
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writer_connection = self.sync_engine.connect()
        with conn.begin():
            return fn(conn)

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
