"""The Redis hub: several nodes share channels through Redis pub/sub.

One pub/sub connection per node, not per socket: local subscribers register with an
in-process hub, and the node subscribes in Redis to a channel while at least one local
subscriber wants it. `add()` returns only once Redis has confirmed the subscription, so
a socket that subscribes and then replays from the database cannot miss a message
published in between.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import orjson
from redis.asyncio import Redis

from ..json_text import dumps

from .memory import MemoryHub, MemorySubscription

log = logging.getLogger(__name__)


class RedisSubscription(MemorySubscription):
    def __init__(self, hub: "RedisHub") -> None:
        super().__init__(hub.local)
        self._redis_hub = hub

    async def add(self, channel: str) -> None:
        await super().add(channel)
        await self._redis_hub._want(channel)

    async def close(self) -> None:
        channels = list(self._channels)
        await super().close()
        for channel in channels:
            await self._redis_hub._maybe_drop(channel)


class RedisHub:
    def __init__(self, url: str, *, prefix: str = "frontdesk:") -> None:
        self.redis: Redis = Redis.from_url(url)
        self.prefix = prefix
        self.local = MemoryHub()
        self._pubsub = self.redis.pubsub()
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._listeners: dict[str, Callable[[bytes], None]] = {}

    async def start(self) -> None:
        await self.redis.ping()
        # A pub/sub connection needs one subscription before it can be read from.
        await self._subscribe("_hub")
        self._reader = asyncio.create_task(self._read(), name="frontdesk-redis-hub")
        await self._confirmed["_hub"]

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.redis.publish(self.prefix + channel, dumps(message))

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """One pipeline, one round trip: a write batch's events are published while the
        write-order lock is held, so every round trip here is time no other node can write."""
        if not messages:
            return
        pipe = self.redis.pipeline(transaction=False)
        for channel, message in messages:
            pipe.publish(self.prefix + channel, dumps(message))
        await pipe.execute()

    async def publish_raw(self, channel: str, data: bytes) -> None:
        """Publish bytes as they are, for a ``listen`` callback (which decodes them itself)."""
        await self.redis.publish(self.prefix + channel, data)

    async def listen(self, channel: str, callback: Callable[[bytes], None]) -> None:
        """Hand every message of ``channel``, as the bytes published, to ``callback`` (in the
        reader, in order) instead of local subscribers; returns once Redis has confirmed the
        subscription."""
        self._listeners[channel] = callback
        await self._want(channel)

    def subscription(self) -> RedisSubscription:
        return RedisSubscription(self)

    async def _subscribe(self, channel: str) -> None:
        self._confirmed[channel] = asyncio.get_running_loop().create_future()
        await self._pubsub.subscribe(self.prefix + channel)

    async def _want(self, channel: str) -> None:
        async with self._lock:
            if channel not in self._confirmed:
                await self._subscribe(channel)
            confirmed = self._confirmed[channel]
        await asyncio.wait_for(asyncio.shield(confirmed), 10)

    async def _maybe_drop(self, channel: str) -> None:
        async with self._lock:
            if channel in self._confirmed and not self.local._subscribers.get(channel):
                del self._confirmed[channel]
                await self._pubsub.unsubscribe(self.prefix + channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:  # connection lost: redis-py reconnects and re-subscribes on next read
                log.exception("redis hub read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"].decode()[len(self.prefix):]
            if message["type"] == "subscribe":
                future = self._confirmed.get(channel)
                if future is not None and not future.done():
                    future.set_result(None)
            elif message["type"] == "message":
                listener = self._listeners.get(channel)
                try:
                    if listener is not None:
                        listener(message["data"])
                    else:
                        self.local.deliver(channel, orjson.loads(message["data"]))
                except Exception:  # noqa: BLE001 - one bad message must not stop the node's reader
                    log.exception("could not deliver a hub message on %s", channel)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._pubsub.aclose()
        await self.redis.aclose()
