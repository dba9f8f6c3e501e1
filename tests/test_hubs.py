"""The hub contract, for both implementations: what is published reaches every subscriber
of the channel, in order, and nobody else."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import AsyncIterator

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
