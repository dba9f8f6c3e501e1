"""Create and upgrade the schema with Alembic, safely when several nodes start at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .db import Database

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number: PostgreSQL advisory lock that makes concurrent starts take turns.
_PG_LOCK_KEY = 720_517_001


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def upgrade(db: Database) -> str | None:
    """Bring the schema to the newest revision; returns the revision now in place."""

    def _upgrade(conn: Connection) -> str | None:
        postgres = db.dialect == "postgresql"
        if postgres:
            # Session-level lock: the first node migrates, the others wait and find nothing to do.
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        try:
            command.upgrade(alembic_config(conn), "head")
            conn.commit()
            return _current(conn)
        finally:
            if postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()

    return await db.connection(_upgrade)


async def current_revision(db: Database) -> str | None:
    return await db.read(_current)
