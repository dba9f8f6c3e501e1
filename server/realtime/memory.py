"""The in-process hub: one node, no dependencies (the default)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .cork import Cork
from .hub import SubscriberTooSlow

_QUEUE_LIMIT = 2000


class MemorySubscription:
    def __init__(self, hub: "MemoryHub") -> None:
        self._hub = hub
        self._queue: asyncio.Queue[dict[str, Any]] | None = None  # made when first needed
        self._callback: Callable[[dict[str, Any]], None] | None = None
        self._channels: set[str] = set()
        self.overflowed = False

    async def add(self, channel: str) -> None:
        self._channels.add(channel)
        self._hub._subscribers.setdefault(channel, set()).add(self)

    def listen(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """From now on hand each message to ``callback`` as it is published (what was
        queued first): no queue and no task per subscriber. The callback must not raise."""
        while self._queue is not None and not self._queue.empty():
            callback(self._queue.get_nowait())
        self._queue = None
        self._callback = callback

    def deliver(self, message: dict[str, Any]) -> None:
        if self._callback is not None:
            self._callback(message)
            return
        if self._queue is None:
            self._queue = asyncio.Queue(_QUEUE_LIMIT)
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> dict[str, Any]:
        if self.overflowed:
            raise SubscriberTooSlow()
        if self._queue is None:
            self._queue = asyncio.Queue(_QUEUE_LIMIT)
        return await self._queue.get()

    async def close(self) -> None:
        for channel in self._channels:
            subs = self._hub._subscribers.get(channel)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._hub._subscribers[channel]
        self._channels.clear()


class MemoryHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[MemorySubscription]] = {}
        self.cork = Cork()  # held by the relay around a committed batch's fan-out (cork.py)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.deliver(channel, message)

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        """Publish without awaiting: nothing here waits, so fan-outs need no coroutine each."""
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.deliver(message)

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for channel, message in messages:
            await self.publish(channel, message)

    def subscription(self) -> MemorySubscription:
        return MemorySubscription(self)

    def subscribed(self, prefix: str) -> list[str]:
        """The channels starting with ``prefix`` that have a subscriber in this process."""
        return [channel for channel in tuple(self._subscribers) if channel.startswith(prefix)]

    async def close(self) -> None:
        self._subscribers.clear()
