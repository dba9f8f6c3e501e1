"""The migrations build exactly the schema that server/store/schema.py declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.store import migrate
from server.store.db import Database
from server.store.schema import metadata


async def test_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert await migrate.upgrade(db) == migrate.head_revision()
        diff = await db.read(lambda conn: compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        await db.close()
    assert diff == [], f"schema.py and the migrations differ: {diff}"


async def test_upgrade_twice_is_harmless(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        first = await migrate.upgrade(db)
        assert await migrate.upgrade(db) == first
    finally:
        await db.close()
