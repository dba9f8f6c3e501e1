"""The migrations build exactly the schema that server/store/schema.py declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.store import migrate
from server.store.db import Database
from server.store.schema import metadata


async def test_migrations_match_the_declared_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert await migrate.upgrade(db) == migrate.head_revision()
        # SQLite's FTS5 indexes (the FAQ's, and 0016's of messages, notes and lead names: virtual
        # tables and their shadow tables) are made by the migrations alone: schema.py cannot
        # declare virtual tables.
        fts = ("faq_search", "search_")
        opts = {"include_name": lambda name, kind, _: not (kind == "table" and (name or "").startswith(fts))}
        diff = await db.read(lambda conn: compare_metadata(MigrationContext.configure(conn, opts=opts), metadata))
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


async def _sites_after_upgrading_from(tmp_path: Path, revision: str, rows_sql: str, keys: list[str]) -> list[Any]:
    """Migrate to ``revision``, insert sites as they were then, upgrade to head, read them back."""
    from alembic import command
    from sqlalchemy import text

    from server.store import sites as site_store

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        def before(conn):  # type: ignore[no-untyped-def]
            command.upgrade(migrate.alembic_config(conn), revision)
            conn.execute(text(rows_sql))
            conn.commit()

        await db.connection(before)
        await migrate.upgrade(db)
        return [await db.read(lambda conn, key=key: site_store.get_site_by_key(conn, key)) for key in keys]
    finally:
        await db.close()


async def test_a_greeting_of_one_text_becomes_the_default_of_every_language(tmp_path: Path) -> None:
    old, none = await _sites_after_upgrading_from(
        tmp_path, "0004_sessions",
        "INSERT INTO sites (key, name, allowed_origins, color, position, greeting, created_at) VALUES "
        "('fd_old', 'Old', '[]', '#000000', 'right', 'Привет!', CURRENT_TIMESTAMP),"
        "('fd_none', 'None', '[]', '#000000', 'right', NULL, CURRENT_TIMESTAMP)",
        ["fd_old", "fd_none"],
    )
    assert old is not None and old.greeting == {"": "Привет!"}
    assert none is not None and none.greeting == {}


async def test_sites_before_0007_get_the_default_corner_and_offsets(tmp_path: Path) -> None:
    """Before 0007 every site was "right" by default: they become "auto" (left on
    right-to-left pages only), with the launcher 16 px from its corner, not shown live."""
    right, left = await _sites_after_upgrading_from(
        tmp_path, "0006_visitor_tokens",
        "INSERT INTO sites (key, name, allowed_origins, color, position, created_at) VALUES "
        "('fd_right', 'R', '[]', '#000000', 'right', CURRENT_TIMESTAMP),"
        "('fd_left', 'L', '[]', '#000000', 'left', CURRENT_TIMESTAMP)",
        ["fd_right", "fd_left"],
    )
    assert right is not None and (right.position, right.offset_x, right.offset_y, right.live_visitors) == ("auto", 16, 16, False)
    assert left is not None and left.position == "left"
