"""Relays on PostgreSQL with nodes committing in parallel (no lock orders their commits):
an event id missing below a committed one is waited for while a transaction that may
hold it runs, and skipped only once it is final."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from server.store.outbox import StoredEvent
from tests.conftest import Backend
from tests.test_hubs import _redis_hub


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backend = Backend("postgres", tmp_path)
    yield backend.url
    backend.close()


class Node:
    """What one node's relay needs: the database, a Redis hub, the relay."""

    def __init__(self, db: Any, hub: Any, relay: Any) -> None:
        self.db, self.hub, self.relay = db, hub, relay


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[tuple[Node, Node]]:
    from server.store import migrate
    from server.store.db import Database
    from server.workers.relay import EventRelay

    db = Database(pg_url)
    await migrate.upgrade(db)
    hub_a, hub_b = await _redis_hub(), await _redis_hub()
    hub_b.prefix = hub_a.prefix  # type: ignore[attr-defined]
    relays = [EventRelay(db, hub, poll_seconds=0.2, gap_grace=0.02) for hub in (hub_a, hub_b)]  # type: ignore[arg-type]
    for relay in relays:
        await relay.start()
    yield Node(db, hub_a, relays[0]), Node(db, hub_b, relays[1])
    for relay in relays:
        await relay.stop()
    await hub_a.close()
    await hub_b.close()
    await db.close()


class OpenTransaction:
    """A writer's transaction on its own connection, left open: it has taken an event
    id, and commits (or rolls back) when the test says."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.event: StoredEvent | None = None

    @classmethod
    async def begin(cls, url: str) -> "OpenTransaction":
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
        await conn.execute("BEGIN")
        self = cls(conn)
        event_id = await conn.fetchval(
            "INSERT INTO events (type, payload, created_at) VALUES ('test.happened', '{}', now()) RETURNING id"
        )
        self.event = StoredEvent(event_id, "test.happened", None, None, {})
        return self

    async def end(self, commit: bool) -> None:
        await self.conn.execute("COMMIT" if commit else "ROLLBACK")
        await self.conn.close()


async def commit_event(node: Node) -> StoredEvent:
    """An event committed by the node's writer (its own transaction) and published."""
    from server.store.outbox import insert_event
    from server.store.writer import GroupWriter

    writer = GroupWriter(node.db, on_commit=node.relay.committed, shared=True)
    writer.start()
    try:
        return await writer.run(
            lambda tx: insert_event(tx.conn, "test.happened", {}, site_id=None, conversation_id=None)
        )
    finally:
        await writer.stop()


async def next_ids(subscription: Any, count: int, timeout: float = 5) -> list[int]:
    return [(await asyncio.wait_for(subscription.get(), timeout))["event_id"] for _ in range(count)]


async def test_an_id_still_in_flight_is_waited_for_and_a_rolled_back_one_skipped(
    pg_url: str, nodes: tuple[Node, Node]
) -> None:
    """Node A's transaction holds event id k while node B commits k+1: consoles on B get
    nothing until A's transaction ends; A commits and dies before publishing: B delivers
    k (from the table), then k+1. A rolled-back id is skipped once its transaction ended."""
    a, b = nodes
    operators = b.hub.subscription()
    await operators.add("operators")
    try:
        running = await OpenTransaction.begin(pg_url)
        later = await commit_event(b)
        assert running.event is not None and later.id > running.event.id
        # Long past the relay's grace and poll: it read the table and must still wait.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(operators.get(), 1.0)
        assert b.relay.position < running.event.id
        await running.end(commit=True)  # ... and node A dies: no publication
        assert await next_ids(operators, 2) == [running.event.id, later.id]

        gone = await OpenTransaction.begin(pg_url)
        after_gone = await commit_event(a)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(operators.get(), 0.5)
        await gone.end(commit=False)
        assert gone.event is not None and after_gone.id > gone.event.id
        assert await next_ids(operators, 1) == [after_gone.id]
        assert b.relay.position >= after_gone.id
    finally:
        await operators.close()


async def test_a_relay_starting_beside_a_running_transaction_waits_for_it(pg_url: str) -> None:
    """A relay starts after event k+1 committed while k's transaction still runs: it must
    not start past k (a console would replay k+1 and never get k)."""
    from server.store import migrate
    from server.store.db import Database
    from server.store.event_gaps import settled_position

    db = Database(pg_url)
    try:
        await migrate.upgrade(db)
        running = await OpenTransaction.begin(pg_url)
        hub = await _redis_hub()
        try:
            node = Node(db, hub, None)
            from server.workers.relay import EventRelay

            node.relay = EventRelay(db, hub)  # type: ignore[arg-type]
            later = await commit_event(node)
            starting = asyncio.ensure_future(settled_position(db))
            await asyncio.sleep(0.5)
            assert not starting.done(), "started while a transaction that holds a lower id runs"
            await running.end(commit=True)
            assert await asyncio.wait_for(starting, 30) >= later.id
        finally:
            await hub.close()
    finally:
        await db.close()
