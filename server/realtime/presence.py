"""Which operators are online: live only, never stored.

`MemoryPresence` counts console sockets of this process. `RedisPresence` keeps, per node,
a heartbeat in a Redis sorted set (score = expiry time by Redis' clock) while that node
has operators connected; "online" is any unexpired node. A node that dies stops beating
and drops out within `ttl` seconds: no clean-shutdown hook is needed. Each node tells
its own visitor sockets when the answer flips.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from redis.asyncio import Redis

from .hub import Hub

log = logging.getLogger(__name__)
PRESENCE = "presence"
_HINT = "presence-hint"


def presence_frame(online: bool) -> dict[str, object]:
    return {"type": "presence", "operators_online": online}


class MemoryPresence:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._connections: Counter[int] = Counter()

    def online(self) -> bool:
        return bool(self._connections)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def connected(self, operator_id: int) -> None:
        was_online = self.online()
        self._connections[operator_id] += 1
        if not was_online:
            await self._hub.publish(PRESENCE, presence_frame(True))

    async def disconnected(self, operator_id: int) -> None:
        self._connections[operator_id] -= 1
        if self._connections[operator_id] <= 0:
            del self._connections[operator_id]
        if not self.online():
            await self._hub.publish(PRESENCE, presence_frame(False))


class RedisPresence:
    def __init__(
        self, redis: Redis, hub: Hub, local: Hub, *, node_id: str, prefix: str, ttl: float = 6.0, beat: float = 1.5
    ) -> None:
        self._redis = redis
        self._hub = hub  # shared by all nodes: carries hints
        self._local = local  # this node only: tells its own visitor sockets
        self._node = node_id
        self._key = prefix + "presence:nodes"
        self._ttl = ttl
        self._beat = beat
        self._connections: Counter[int] = Counter()
        self._online = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hints: asyncio.Task[None] | None = None

    def online(self) -> bool:
        """The last known answer (refreshed every beat and on every change anywhere)."""
        return self._online

    async def start(self) -> None:
        await self._refresh()
        self._task = asyncio.create_task(self._run(), name="frontdesk-presence")
        subscription = self._hub.subscription()
        await subscription.add(_HINT)

        async def listen() -> None:
            try:
                while True:
                    await subscription.get()
                    self._wake.set()
            finally:
                await subscription.close()

        self._hints = asyncio.create_task(listen(), name="frontdesk-presence-hints")

    async def close(self) -> None:
        for task in (self._task, self._hints):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        try:
            await self._redis.zrem(self._key, self._node)
        except Exception:  # shutting down: expiry will clean up
            log.warning("could not remove presence entry on close")

    async def connected(self, operator_id: int) -> None:
        first = not self._connections
        self._connections[operator_id] += 1
        if first:
            await self._refresh()
            await self._hub.publish(_HINT, {})

    async def disconnected(self, operator_id: int) -> None:
        self._connections[operator_id] -= 1
        if self._connections[operator_id] <= 0:
            del self._connections[operator_id]
        if not self._connections:
            await self._redis.zrem(self._key, self._node)
            await self._refresh()
            await self._hub.publish(_HINT, {})

    async def _refresh(self) -> None:
        seconds, micros = await self._redis.time()
        now = seconds + micros / 1e6
        if self._connections:
            await self._redis.zadd(self._key, {self._node: now + self._ttl})
        await self._redis.zremrangebyscore(self._key, "-inf", now)
        online = await self._redis.zcount(self._key, now, "+inf") > 0
        if online != self._online:
            self._online = online
            await self._local.publish(PRESENCE, presence_frame(online))

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._beat)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._refresh()
            except Exception:
                log.exception("presence heartbeat failed")
