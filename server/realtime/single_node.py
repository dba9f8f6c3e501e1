"""With the in-process hub, one serving process per database: a second one is refused.

Two processes on one database with in-process hubs would each see only their own
events — visitors and operators on different processes would silently miss each
other. The lock is an OS file lock next to a SQLite file, or a PostgreSQL advisory
lock held by an open connection; both vanish with the process, even on SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..store.db import Database

_PG_KEY = 720_517_003


class SingleNodeError(RuntimeError):
    pass


MESSAGE = (
    "another Frontdesk process is already serving this database with the in-process hub; "
    "to run several processes or nodes, set FRONTDESK_REDIS_URL"
)


class SingleNodeLock:
    def __init__(self, release: Any) -> None:
        self._release = release

    @classmethod
    async def acquire(cls, db: Database) -> "SingleNodeLock":
        if db.dialect == "sqlite":
            path = make_url(db.url).database or ":memory:"
            if path == ":memory:":
                return cls(None)
            lock_path = Path(path).with_name(Path(path).name + ".serve-lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SingleNodeError(MESSAGE) from None

            async def release_file() -> None:
                os.close(fd)

            return cls(release_file)
        conn = await db.engine.connect()
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_KEY})).scalar_one()
        await conn.commit()
        if not got:
            await conn.close()
            raise SingleNodeError(MESSAGE)

        async def release_pg() -> None:
            await conn.close()

        return cls(release_pg)

    async def release(self) -> None:
        if self._release is not None:
            await self._release()
            self._release = None
