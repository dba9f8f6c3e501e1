"""Who is on duty, per site, on both presence backends: an operator limited to site B puts
B on duty and not A (on this node and on another), each site's visitor sockets hear only
their own site's flips, and a dead node's operators stop counting once its heartbeat expires."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator

import pytest

from server.realtime.hub import site_channel
from server.realtime.memory import MemoryHub, MemorySubscription
from server.realtime.presence import MemoryPresence, OnDuty, RedisPresence
from tests.servers import REDIS_URL, require_redis

SITE_A, SITE_B = 101, 102
TTL, BEAT = 1.0, 0.2


@dataclass
class Node:
    presence: MemoryPresence | RedisPresence
    local: MemoryHub  # where this node's visitor sockets listen


class Nodes:
    """Two nodes that share who is on duty (memory: one process, the same node twice)."""

    def __init__(self, one: Node, two: Node, prefix: str = "") -> None:
        self.one, self.two, self.prefix = one, two, prefix
        self._subscriptions: list[MemorySubscription] = []

    async def visitor_of(self, node: Node, site_id: int) -> MemorySubscription:
        """What a visitor socket of ``site_id`` on ``node`` listens to."""
        subscription = node.local.subscription()
        await subscription.add(site_channel(site_id))
        self._subscriptions.append(subscription)
        return subscription

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.close()


async def redis_nodes() -> AsyncIterator[Nodes]:
    from server.realtime.redis import RedisHub

    require_redis("the Redis presence is not tested")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    hubs = [RedisHub(REDIS_URL, prefix=prefix), RedisHub(REDIS_URL, prefix=prefix)]
    nodes = []
    for n, hub in enumerate(hubs):
        await hub.start()
        presence = RedisPresence(hub.redis, hub, hub.local, node_id=f"node-{n}", prefix=prefix, ttl=TTL, beat=BEAT)
        await presence.start()
        nodes.append(Node(presence, hub.local))
    pair = Nodes(nodes[0], nodes[1], prefix)
    yield pair
    await pair.close()
    for node, hub in zip(nodes, hubs):
        await node.presence.close()
        await hub.close()


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[Nodes]:
    if request.param == "memory":
        hub = MemoryHub()
        node = Node(MemoryPresence(hub), hub)
        pair = Nodes(node, node)
        yield pair
        await pair.close()
        return
    async for pair in redis_nodes():
        yield pair


async def next_frame(subscription: MemorySubscription) -> dict[str, Any]:
    return await asyncio.wait_for(subscription.get(), 10)


async def nothing_before_now(node: Node, subscription: MemorySubscription, site_id: int) -> None:
    """The socket got no frame so far: a marker published now on its node comes first."""
    await node.local.publish(site_channel(site_id), {"type": "marker"})
    assert await next_frame(subscription) == {"type": "marker"}


async def test_an_operator_limited_to_site_b_puts_only_b_on_duty(nodes: Nodes) -> None:
    one, two = nodes.one, nodes.two
    visitor_a, visitor_b = await nodes.visitor_of(two, SITE_A), await nodes.visitor_of(two, SITE_B)
    assert not two.presence.online(SITE_A) and not two.presence.online(SITE_B)

    b_only = frozenset({SITE_B})
    await one.presence.connected(b_only)  # a console of an operator who works site B only, on node one
    assert await next_frame(visitor_b) == {"type": "presence", "operators_online": True}
    assert two.presence.online(SITE_B) and one.presence.online(SITE_B)
    assert not two.presence.online(SITE_A) and not one.presence.online(SITE_A)
    await nothing_before_now(two, visitor_a, SITE_A)  # site A's visitors were told nothing

    await one.presence.connected(b_only)  # the same operator's second tab; then one closes: still on duty
    await one.presence.disconnected(b_only)
    await one.presence.disconnected(b_only)  # the last one closes
    assert await next_frame(visitor_b) == {"type": "presence", "operators_online": False}
    assert not two.presence.online(SITE_B)

    await one.presence.connected(None)  # an operator who works every site
    assert await next_frame(visitor_a) == {"type": "presence", "operators_online": True}
    assert await next_frame(visitor_b) == {"type": "presence", "operators_online": True}
    assert two.presence.online(SITE_A) and two.presence.online(SITE_B)
    await one.presence.connected(b_only)
    await one.presence.disconnected(None)  # only B's operator is left: A goes off duty, B stays
    assert await next_frame(visitor_a) == {"type": "presence", "operators_online": False}
    assert two.presence.online(SITE_B) and not two.presence.online(SITE_A)
    await nothing_before_now(two, visitor_b, SITE_B)
    await one.presence.disconnected(b_only)
    assert await next_frame(visitor_b) == {"type": "presence", "operators_online": False}


async def test_a_dead_nodes_operators_stop_counting_after_the_ttl() -> None:
    async for nodes in redis_nodes():
        one, two = nodes.one, nodes.two
        assert isinstance(one.presence, RedisPresence)
        visitor_b = await nodes.visitor_of(two, SITE_B)
        await one.presence.connected(frozenset({SITE_B}))
        assert await next_frame(visitor_b) == {"type": "presence", "operators_online": True}

        # Node one dies: its heartbeat stops, nothing is removed (no shutdown hook runs).
        for task in (one.presence._task, one.presence._hints):
            assert task is not None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stopped = time.monotonic()
        assert two.presence.online(SITE_B)  # still counted until the heartbeat expires
        assert await next_frame(visitor_b) == {"type": "presence", "operators_online": False}
        waited = time.monotonic() - stopped
        assert TTL - BEAT - 0.1 <= waited <= TTL + 5 * BEAT, waited
        assert not two.presence.online(SITE_B)
        # The dead node's record is gone with its heartbeat: Redis holds nothing more per dead node.
        hub_redis = two.presence._redis
        assert await hub_redis.hkeys(nodes.prefix + "presence:sites") == []
        assert await hub_redis.zcard(nodes.prefix + "presence:nodes") == 0


def test_the_answer_for_every_site_at_once() -> None:
    nobody, b_and_c, everyone = OnDuty(), OnDuty(sites=frozenset({2, 3})), OnDuty(everywhere=True)
    assert b_and_c.record() == "2,3" and everyone.record() == "*" and nobody.record() == ""
    assert OnDuty.union(["2", "3,2", ""]) == b_and_c
    assert OnDuty.union(["2", "*"]) == everyone
    assert b_and_c.flips(nobody, watched=[1, 2, 9]) == [(2, True), (3, True)]  # watched only matters for "*"
    assert everyone.flips(b_and_c, watched=[1, 2, 9]) == [(1, True), (9, True)]
    assert b_and_c.flips(everyone, watched=[1, 2, 9]) == [(1, False), (9, False)]
