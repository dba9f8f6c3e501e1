"""Create and upgrade the schema with Alembic, safely when several nodes start at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

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


async def upgrade(db: Database) -> str | None:
    """Bring the schema to the newest revision; returns the revision now in place."""

    def _upgrade(sync_conn: Any) -> str | None:
        command.upgrade(alembic_config(sync_conn), "head")
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            # Session-level lock: the first node migrates, the others wait and find nothing to do.
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        try:
            revision = await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            if db.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                await conn.commit()
    return revision


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
