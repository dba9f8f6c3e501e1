"""The hub contract, for both implementations: what is published reaches every subscriber
of the channel, in order, and nobody else."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from server.realtime.hub import Hub
from server.realtime.memory import MemoryHub
from tests.servers import REQUIRE_SERVICES

REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _redis_hub() -> Hub:
    from server.realtime.redis import RedisHub

    hub = RedisHub(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        await hub.start()
    except Exception as exc:  # noqa: BLE001
        await hub.close()
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required here (FRONTDESK_REQUIRE_SERVICES=1) but: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return hub


@pytest.fixture(params=["memory", "redis"])
async def hubs(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Hub, Hub]]:
    """Two hubs that should behave as one (two nodes); for memory, the same hub twice."""
    if request.param == "memory":
        hub = MemoryHub()
        yield hub, hub
        return
    a, b = await _redis_hub(), await _redis_hub()
    b.prefix = a.prefix  # type: ignore[attr-defined]
    yield a, b
    await a.close()
    await b.close()


async def test_publish_reaches_subscribers_on_any_node_in_order(hubs: tuple[Hub, Hub]) -> None:
    node_a, node_b = hubs
    here, there, elsewhere = node_a.subscription(), node_b.subscription(), node_b.subscription()
    await here.add("conversation:1")
    await there.add("conversation:1")
    await elsewhere.add("conversation:2")
    for i in range(50):
        await node_a.publish("conversation:1", {"n": i})
    got_here = [await asyncio.wait_for(here.get(), 5) for _ in range(50)]
    got_there = [await asyncio.wait_for(there.get(), 5) for _ in range(50)]
    assert [m["n"] for m in got_here] == list(range(50))
    assert got_there == got_here
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(elsewhere.get(), 0.2)
    for sub in (here, there, elsewhere):
        await sub.close()


async def test_closed_subscription_gets_nothing_more(hubs: tuple[Hub, Hub]) -> None:
    node_a, node_b = hubs
    sub = node_b.subscription()
    await sub.add("operators")
    await sub.close()
    other = node_b.subscription()
    await other.add("operators")
    await node_a.publish("operators", {"x": 1})
    assert await asyncio.wait_for(other.get(), 5) == {"x": 1}
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(sub.get(), 0.2)
    await other.close()


async def test_relays_deliver_every_committed_event_in_order_whoever_published(tmp_path: Path) -> None:
    """Two nodes' relays on one database and Redis: node B's sockets get A's events in id
    order and once — those A committed but never published (found in the table, before
    anything after them), not those the table lacks (rolled back) — and the last batch of a
    node that died with nothing committed behind it."""
    from sqlalchemy import delete

    from server.store import migrate
    from server.store.db import Database
    from server.store.outbox import StoredEvent, insert_event
    from server.store.schema import events
    from server.workers.relay import EventRelay

    db = Database(f"sqlite:///{tmp_path / 'relay.db'}")
    await migrate.upgrade(db)
    hub_a, hub_b = await _redis_hub(), await _redis_hub()
    hub_b.prefix = hub_a.prefix  # type: ignore[attr-defined]
    relay_a = EventRelay(db, hub_a, poll_seconds=0.2)  # type: ignore[arg-type]
    relay_b = EventRelay(db, hub_b, poll_seconds=0.2)  # type: ignore[arg-type]
    await relay_a.start()
    await relay_b.start()
    operators = hub_b.subscription()
    await operators.add("operators")

    async def commit(n: int) -> list[StoredEvent]:
        return await db.transaction(lambda conn: [
            insert_event(conn, "test.happened", {"n": i}, site_id=None, conversation_id=None) for i in range(n)
        ])

    async def received(count: int) -> list[int]:
        return [(await asyncio.wait_for(operators.get(), 5))["event_id"] for _ in range(count)]

    try:
        first = await commit(2)
        await relay_a.committed(first)
        assert await received(2) == [e.id for e in first]
        unpublished = await commit(2)  # A died before publishing these...

        def with_a_hole(conn: Any) -> list[StoredEvent]:  # an id taken, then not committed
            gone = insert_event(conn, "test.happened", {}, site_id=None, conversation_id=None)
            kept = insert_event(conn, "test.happened", {}, site_id=None, conversation_id=None)
            conn.execute(delete(events).where(events.c.id == gone.id))
            return [kept]

        later = await db.transaction(with_a_hole)
        await relay_a.committed(later)  # published ahead of the gap: held until it is filled
        assert await received(3) == [e.id for e in unpublished + later]
        tail = await commit(2)  # nothing committed behind these: found by the poll
        assert await received(2) == [e.id for e in tail]
        await relay_b.committed(tail)  # published late: not delivered twice
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(operators.get(), 0.5)
    finally:
        await operators.close()
        for relay in (relay_a, relay_b):
            await relay.stop()
        await hub_a.close()
        await hub_b.close()
        await db.close()
