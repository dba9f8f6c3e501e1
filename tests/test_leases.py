"""Leases on a real database (SQLite and PostgreSQL): claims are exclusive, expire, are
taken over, and a holder whose lease was taken over cannot record its outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator

import pytest

from server.store import leases, migrate, outbox, sites
from server.store import webhooks as webhook_store
from server.store.db import Database, utcnow
from server.store.leases import Claim
from server.store.schema import webhook_deliveries
from tests.conftest import BACKENDS, Backend

LEASE = 30.0


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    backend = await asyncio.to_thread(Backend, request.param, tmp_path)
    database = Database(backend.url)
    await migrate.upgrade(database)
    yield database
    await database.close()
    await asyncio.to_thread(backend.close)


async def queue(db: Database, count: int) -> None:
    """``count`` due webhook deliveries (one endpoint, ``count`` events)."""

    def fill(conn):  # type: ignore[no-untyped-def]
        site = sites.insert_site(
            conn, key="fd_lease", name="Leases", allowed_origins=("https://a.example",), color="#000000",
            position="right", language=None, greeting=None,
        )
        webhook_store.insert_endpoint(
            conn, site_id=site.id, url="https://crm.example/in", secret="whsec_AAAA", description=None,
            event_types=(),
        )
        events = [outbox.insert_event(conn, "message.created", {"n": n}, site_id=site.id, conversation_id=None)
                  for n in range(count)]
        return webhook_store.queue_deliveries(conn, events)

    assert await db.transaction(fill) == count


async def claim(db: Database, owner: str, limit: int, *, later: float = 0.0) -> list[Claim]:
    now = utcnow() + timedelta(seconds=later)
    return await db.transaction(
        lambda conn: leases.claim(conn, webhook_deliveries, owner=owner, now=now, lease_seconds=LEASE, limit=limit)
    )


async def test_a_lease_is_exclusive_until_it_expires_and_then_fenced(db: Database) -> None:
    await queue(db, 5)
    a = await claim(db, "node-a", 3)
    b = await claim(db, "node-b", 10)
    assert len(a) == 3 and len(b) == 2 and not {c.id for c in a} & {c.id for c in b}
    assert await claim(db, "node-c", 10) == []  # everything is leased
    assert not any(c.takeover for c in a + b)

    # node-a hangs past its lease: node-c takes its jobs over.
    taken = await claim(db, "node-c", 10, later=LEASE + 1)
    assert sorted(c.id for c in taken) == sorted(c.id for c in a + b)
    assert all(c.takeover for c in taken)

    async def finish(job: Claim, owner: str) -> bool:
        return await db.transaction(
            lambda conn: leases.finish(conn, webhook_deliveries, job, owner=owner, status=leases.DONE)
        )

    assert await finish(a[0], "node-a") is False  # its lease is gone: its outcome is not written
    new = next(c for c in taken if c.id == a[0].id)
    assert await finish(new, "node-c") is True
    rows = await db.read(lambda conn: webhook_store.list_deliveries(conn, 1))
    row = next(r for r in rows if r["id"] == new.id)
    assert (row["status"], row["attempts"], row["claims"], row["lease_owner"]) == ("done", 1, 2, None)


async def test_released_claims_are_due_again_without_a_takeover(db: Database) -> None:
    await queue(db, 2)
    held = await claim(db, "node-a", 10)
    released = await db.transaction(lambda conn: leases.release(conn, webhook_deliveries, held, owner="node-a"))
    assert released == 2
    again = await claim(db, "node-b", 10)
    assert sorted(c.id for c in again) == sorted(c.id for c in held)
    assert not any(c.takeover for c in again)


async def test_concurrent_claims_never_share_a_job(db: Database) -> None:
    await queue(db, 120)
    seen: list[int] = []

    async def node(name: str) -> None:
        for _ in range(40):  # bounded: 120 jobs, 8 nodes, up to 7 per claim
            got = await claim(db, name, 7)
            seen.extend(c.id for c in got)
            if not got and len(seen) >= 120:
                return
            await asyncio.sleep(0)

    await asyncio.gather(*(node(f"node-{n}") for n in range(8)))
    assert len(seen) == 120 and len(set(seen)) == 120
    assert await db.read(lambda conn: leases.backlog(conn, webhook_deliveries)) == 120  # claimed, not done
