"""Who is on duty, per site: live only, never stored.

An operator with a console open is on duty for the sites they may work: every site, or
the ones `operator_sites` limits them to. `MemoryPresence` counts this process's console
sockets. `RedisPresence` keeps, per node, a heartbeat in a Redis sorted set (score =
expiry time by Redis' clock) and a record of the sites its operators work ("*": all)
while that node has operators connected; a site is on duty while an unexpired node's
record covers it. A node that dies stops beating and drops out within `ttl` seconds: no
clean-shutdown hook is needed.

When a site's answer flips, each node tells its own visitor sockets of that site with a
`presence` frame on the site's channel (they already listen to it for `site.updated`):
nothing per socket, and a visitor of site A hears nothing about an operator of site B.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from redis.asyncio import Redis

from .hub import Frame, Hub, site_channel
from .memory import MemoryHub

log = logging.getLogger(__name__)
_HINT = "presence-hint"
_EVERYWHERE = "*"
_SITE_PREFIX = site_channel(0)[:-1]


def presence_frame(online: bool) -> Frame:
    return Frame(type="presence", operators_online=online)


@dataclass(frozen=True)
class OnDuty:
    """The answer for every site at once: all of them (an operator who works every site is
    online), or these."""

    everywhere: bool = False
    sites: frozenset[int] = frozenset()

    def covers(self, site_id: int) -> bool:
        return self.everywhere or site_id in self.sites

    def flips(self, before: "OnDuty", watched: Iterable[int]) -> list[tuple[int, bool]]:
        """(site, now on duty) for each site whose answer changed since ``before``. Only
        sites either answer names can change, unless "everywhere" changed: then every
        watched site (those with visitor sockets here) may have."""
        candidates = set(self.sites) ^ before.sites
        if self.everywhere != before.everywhere:
            candidates.update(watched)
        return [(site_id, self.covers(site_id)) for site_id in sorted(candidates)
                if self.covers(site_id) != before.covers(site_id)]

    def record(self) -> str:
        """As a node's heartbeat carries it: "*", "3,7,12", or "" (nobody)."""
        return _EVERYWHERE if self.everywhere else ",".join(map(str, sorted(self.sites)))

    @classmethod
    def union(cls, records: Iterable[str]) -> "OnDuty":
        sites: set[int] = set()
        for record in records:
            if record == _EVERYWHERE:
                return cls(everywhere=True)
            sites.update(int(part) for part in record.split(",") if part)
        return cls(sites=frozenset(sites))


class Connections:
    """Open consoles counted by the sites their operator works (None: every site)."""

    def __init__(self) -> None:
        self._everywhere = 0
        self._sites: Counter[int] = Counter()

    def add(self, sites: frozenset[int] | None, step: int) -> None:
        if sites is None:
            self._everywhere += step
            return
        for site_id in sites:
            self._sites[site_id] += step
            if self._sites[site_id] <= 0:
                del self._sites[site_id]

    def answer(self) -> OnDuty:
        if self._everywhere > 0:
            return OnDuty(everywhere=True)
        return OnDuty(sites=frozenset(self._sites))


def watched_sites(hub: MemoryHub) -> list[int]:
    """The sites whose channel has a subscriber in this process (visitor sockets)."""
    return [int(channel[len(_SITE_PREFIX):]) for channel in hub.subscribed(_SITE_PREFIX)]


async def tell(hub: MemoryHub, flips: list[tuple[int, bool]]) -> None:
    for site_id, online in flips:
        await hub.publish(site_channel(site_id), presence_frame(online))


class MemoryPresence:
    def __init__(self, hub: MemoryHub) -> None:
        self._hub = hub
        self._connections = Connections()
        self._answer = OnDuty()

    def online(self, site_id: int) -> bool:
        """Whether an operator who may work ``site_id`` has a console open."""
        return self._answer.covers(site_id)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def connected(self, sites: frozenset[int] | None) -> None:
        """A console opened by an operator who works ``sites`` (None: every site)."""
        await self._count(sites, 1)

    async def disconnected(self, sites: frozenset[int] | None) -> None:
        await self._count(sites, -1)

    async def _count(self, sites: frozenset[int] | None, step: int) -> None:
        self._connections.add(sites, step)
        before, self._answer = self._answer, self._connections.answer()
        await tell(self._hub, self._answer.flips(before, watched_sites(self._hub)))


# One round trip per beat, atomic: this node's heartbeat and record (or their removal),
# expired nodes dropped by Redis' clock, the records of the nodes alive returned.
_BEAT = """
local nodes, records = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if ARGV[2] ~= '' then
  redis.call('ZADD', nodes, now + tonumber(ARGV[3]), ARGV[1])
  redis.call('HSET', records, ARGV[1], ARGV[2])
else
  redis.call('ZREM', nodes, ARGV[1])
  redis.call('HDEL', records, ARGV[1])
end
local dead = redis.call('ZRANGEBYSCORE', nodes, '-inf', now)
for _, node in ipairs(dead) do
  redis.call('ZREM', nodes, node)
  redis.call('HDEL', records, node)
end
local alive = redis.call('ZRANGE', nodes, 0, -1)
if #alive == 0 then return {} end
return redis.call('HMGET', records, unpack(alive))
"""


class RedisPresence:
    def __init__(
        self, redis: Redis, hub: Hub, local: MemoryHub, *, node_id: str, prefix: str, ttl: float = 6.0,
        beat: float = 1.5,
    ) -> None:
        self._redis = redis
        self._hub = hub  # shared by all nodes: carries hints
        self._local = local  # this node only: tells its own visitor sockets
        self._node = node_id
        self._keys = [prefix + "presence:nodes", prefix + "presence:sites"]
        self._script = redis.register_script(_BEAT)
        self._ttl = ttl
        self._beat = beat
        self._connections = Connections()
        self._answer = OnDuty()
        self._refreshing = asyncio.Lock()  # one refresh at a time: an older answer never lands last
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hints: asyncio.Task[None] | None = None

    def online(self, site_id: int) -> bool:
        """The last known answer (refreshed every beat and on every change anywhere)."""
        return self._answer.covers(site_id)

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
            await self._redis.zrem(self._keys[0], self._node)
            await self._redis.hdel(self._keys[1], self._node)
        except Exception:  # shutting down: expiry will clean up
            log.warning("could not remove presence entry on close")

    async def connected(self, sites: frozenset[int] | None) -> None:
        """A console opened on this node by an operator who works ``sites`` (None: every site)."""
        await self._count(sites, 1)

    async def disconnected(self, sites: frozenset[int] | None) -> None:
        await self._count(sites, -1)

    async def _count(self, sites: frozenset[int] | None, step: int) -> None:
        before = self._connections.answer().record()
        self._connections.add(sites, step)
        if self._connections.answer().record() != before:  # this node's record changed: tell every node
            await self._refresh()
            await self._hub.publish(_HINT, {})

    async def _refresh(self) -> None:
        async with self._refreshing:
            records = await self._script(
                keys=self._keys, args=[self._node, self._connections.answer().record(), self._ttl]
            )
            before, self._answer = self._answer, OnDuty.union(r.decode() for r in records if r is not None)
            await tell(self._local, self._answer.flips(before, watched_sites(self._local)))

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
