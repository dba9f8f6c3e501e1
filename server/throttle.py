"""Rate limits behind one small interface: ``hit(name, key, limit, per_seconds)``.

In one process: a token bucket per key in a dict — no task, no thread hop. (The
`limits` moving window starts an expiry task and an ``asyncio.to_thread`` per key: 38 %
of the server's GIL time at 100 messages/s, issue 20.) With Redis (several nodes share
the counters): a fixed-window counter per key, counted in batches: the hits that come
while one round trip is out go together in the next (INCRBY + EXPIRE per key, one
pipeline), not a pipeline per message.

Also here: the count of sockets each address holds open on this node.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until one more would be allowed


ALLOWED = Verdict(True)


class Throttle(Protocol):
    async def hit(self, name: str, key: str, limit: int, per_seconds: float) -> Verdict:
        """Count one more ``name`` for ``key``; refused beyond ``limit`` per ``per_seconds``."""
        ...


class MemoryThrottle:
    """Token buckets: ``limit`` at once, then refilled at ``limit / per_seconds`` a second."""

    _SWEEP_EVERY = 4096  # new keys between sweeps of full (forgettable) buckets

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # (name, key) -> [tokens, updated at, full again at]
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._new_keys = 0

    async def hit(self, name: str, key: str, limit: int, per_seconds: float) -> Verdict:
        now = self._clock()
        rate = limit / per_seconds
        bucket = self._buckets.get((name, key))
        if bucket is None:
            self._new_keys += 1
            if self._new_keys >= self._SWEEP_EVERY:
                self._sweep(now)
            bucket = self._buckets[(name, key)] = [float(limit), now, now]
        tokens = min(float(limit), bucket[0] + (now - bucket[1]) * rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        bucket[0], bucket[1], bucket[2] = tokens, now, now + (limit - tokens) / rate
        return ALLOWED if allowed else Verdict(False, (1 - tokens) / rate)

    def _sweep(self, now: float) -> None:
        """A full bucket is the same as no bucket: forget those (memory stays bounded)."""
        self._new_keys = 0
        for k in [k for k, b in self._buckets.items() if b[2] <= now]:
            del self._buckets[k]


@dataclass
class _Window:
    """The hits on one Redis counter waiting for the next round trip."""

    seconds: int
    ends_at: float
    hits: list[tuple[int, "asyncio.Future[Verdict]"]] = field(default_factory=list)  # (limit, verdict)


class RedisThrottle:
    """Fixed windows shared by every node (a burst may reach 2x the limit across a
    window's edge; the memory buckets are smoother but per process), counted in batches."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + "rate:"
        self._waiting: dict[str, _Window] = {}
        self._flushing: asyncio.Task[None] | None = None

    async def hit(self, name: str, key: str, limit: int, per_seconds: float) -> Verdict:
        window = max(1, math.ceil(per_seconds))
        slot = int(time.time() // window)
        redis_key = f"{self._prefix}{name}:{key}:{slot}"
        waiting = self._waiting.get(redis_key)
        if waiting is None:
            waiting = self._waiting[redis_key] = _Window(window, (slot + 1) * window)
        verdict: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        waiting.hits.append((limit, verdict))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return await verdict

    async def _flush(self) -> None:
        """Round trips until nothing waits: each takes every hit that came meanwhile."""
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for redis_key, waiting in batch.items():
                        pipe.incrby(redis_key, len(waiting.hits))
                    counts = await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - each waiting hit gets the error
                for waiting in batch.values():
                    for _, verdict in waiting.hits:
                        if not verdict.done():
                            verdict.set_exception(exc)
                continue
            now = time.time()
            for waiting, count in zip(batch.values(), counts):
                first = count - len(waiting.hits)  # the counter before this batch's hits
                for n, (limit, verdict) in enumerate(waiting.hits, start=1):
                    if not verdict.done():
                        verdict.set_result(ALLOWED if first + n <= limit else Verdict(False, waiting.ends_at - now))
            # The round trip that made a counter gives it its expiry, after the verdicts: one
            # EXPIRE per key and window, not one per key per round trip (half the commands).
            made = [(k, w.seconds + 1) for (k, w), count in zip(batch.items(), counts) if count == len(w.hits)]
            if made:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for redis_key, seconds in made:
                            pipe.expire(redis_key, seconds)
                        await pipe.execute()
                except Exception:  # noqa: BLE001 - a counter without expiry is only memory
                    log.warning("could not set the expiry of %d rate counters", len(made), exc_info=True)


class SocketCounts:
    """Open sockets per address on this node. Per node on purpose: a shared count would
    leak the sockets of a node that dies; behind N nodes an address may hold N x the limit."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def acquire(self, address: str, limit: int) -> bool:
        count = self._open.get(address, 0)
        if count >= limit:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)
