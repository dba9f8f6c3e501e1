"""The group-commit writer: stored before acked, batched, one bad write fails only itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from server.store import migrate
from server.store.db import Database, utcnow
from server.store.outbox import StoredEvent, events_after
from server.store.schema import sites
from server.store.writer import GroupWriter, Tx


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    await migrate.upgrade(database)
    yield database  # type: ignore[misc]
    await database.close()


def _site_job(key: str) -> object:
    def job(tx: Tx) -> str:
        tx.conn.execute(insert(sites).values(
            key=key, name=key, allowed_origins="[]", color="#000000", position="right", created_at=utcnow()
        ))
        tx.append_event("site.created", {"key": key})
        return key

    return job


async def test_concurrent_writes_share_commits_and_all_land(db: Database) -> None:
    published: list[StoredEvent] = []

    async def on_commit(events: list[StoredEvent]) -> None:
        published.extend(events)

    writer = GroupWriter(db, max_batch=64, on_commit=on_commit)
    writer.start()
    keys = [f"k{i}" for i in range(200)]
    results = await asyncio.gather(*(writer.run(_site_job(k)) for k in keys))  # type: ignore[arg-type]
    await writer.stop()

    assert results == keys
    assert writer.batches < 50, f"{writer.batches} commits for 200 writes: not grouped"
    count = await db.read(lambda conn: conn.execute(select(func.count()).select_from(sites)).scalar_one())
    assert count == 200
    stored = await db.read(lambda conn: events_after(conn, 0))
    assert [e.payload["key"] for e in stored] == keys  # committed in submission order
    assert [e.id for e in published] == [e.id for e in stored]


async def test_a_failing_job_fails_alone(db: Database) -> None:
    writer = GroupWriter(db)
    writer.start()

    def broken(tx: Tx) -> None:
        tx.append_event("half.done", {})
        raise RuntimeError("boom")

    jobs = [writer.run(_site_job("a")), writer.run(broken), writer.run(_site_job("b"))]  # type: ignore[arg-type]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    await writer.stop()
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], RuntimeError)
    types = [e.type for e in await db.read(lambda conn: events_after(conn, 0))]
    assert types == ["site.created", "site.created"]  # the broken job's event was rolled back
