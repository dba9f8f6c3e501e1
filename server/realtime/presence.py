"""Which operators are online: live only, never stored.

In-process counting here; the Redis implementation (heartbeats with expiry) comes with
scale-out and keeps this interface.
"""

from __future__ import annotations

from collections import Counter

from .hub import Hub

PRESENCE = "presence"


class MemoryPresence:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._connections: Counter[int] = Counter()

    def online(self) -> bool:
        return bool(self._connections)

    async def connected(self, operator_id: int) -> None:
        was_online = self.online()
        self._connections[operator_id] += 1
        if not was_online:
            await self._hub.publish(PRESENCE, {"type": "presence", "operators_online": True})

    async def disconnected(self, operator_id: int) -> None:
        self._connections[operator_id] -= 1
        if self._connections[operator_id] <= 0:
            del self._connections[operator_id]
        if not self.online():
            await self._hub.publish(PRESENCE, {"type": "presence", "operators_online": False})
