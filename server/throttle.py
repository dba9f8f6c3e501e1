"""Rate limits behind one small interface: ``hit(name, key, limit, per_seconds)``.

In one process: a token bucket per key in a dict — no task, no thread hop. (The
`limits` moving window starts an expiry task and an ``asyncio.to_thread`` per key: 38 %
of the server's GIL time at 100 messages/s, issue 20.) With Redis (several nodes share
the counters): a fixed-window counter per key; a key's first hit on a node waits for
Redis, later ones are decided on the node and sent in batches (``RedisThrottle``).

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
class _Counter:
    """This node's view of one Redis counter (one key, one window)."""

    seconds: int
    ends_at: float
    known: int = 0  # the counter as Redis last answered (every node's hits)
    sending: int = 0  # admitted here and sent; the answer is not back yet
    unsent: int = 0  # admitted here since, to go in the next round trip
    synced: bool = False  # Redis has answered for this key once: later hits are decided here
    waiting: list[tuple[int, "asyncio.Future[Verdict]"]] = field(default_factory=list)  # (limit, verdict)


class RedisThrottle:
    """Fixed windows shared by every node, counted in Redis in batches.

    A key's first hit on this node waits for Redis (one INCRBY with the other hits that
    came meanwhile: the verdict counts every node's hits). After that, hits are decided
    here, at once, on the counter as Redis last answered plus this node's hits since, and
    go to Redis in the background at most every ``sync_seconds`` (one INCRBY a key for
    all of them). On one node that is exact; across nodes a key may pass its limit by
    what other nodes admitted since their last round trip (~``sync_seconds``). A burst
    may also reach 2x the limit across a window's edge (fixed windows)."""

    def __init__(self, redis: Redis, prefix: str, sync_seconds: float = 0.05) -> None:
        self._redis = redis
        self._prefix = prefix + "rate:"
        self._sync = sync_seconds
        self._counters: dict[str, _Counter] = {}
        self._flushing: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()

    async def hit(self, name: str, key: str, limit: int, per_seconds: float) -> Verdict:
        window = max(1, math.ceil(per_seconds))
        now = time.time()
        slot = int(now // window)
        redis_key = f"{self._prefix}{name}:{key}:{slot}"
        counter = self._counters.get(redis_key)
        if counter is None:
            counter = self._counters[redis_key] = _Counter(window, (slot + 1) * window)
        if counter.synced:
            self._start()
            if counter.known + counter.sending + counter.unsent < limit:
                counter.unsent += 1
                return ALLOWED
            return Verdict(False, counter.ends_at - now)
        verdict: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        counter.waiting.append((limit, verdict))
        self._urgent.set()
        self._start()
        return await verdict

    def _start(self) -> None:
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        """Round trips until nothing is left to send; hits that wait for a verdict go at once,
        hits already admitted wait up to ``sync_seconds`` for company."""
        while True:
            if not self._urgent.is_set():
                try:
                    await asyncio.wait_for(self._urgent.wait(), self._sync)
                except asyncio.TimeoutError:
                    pass
            self._urgent.clear()
            now = time.time()
            for redis_key in [k for k, c in self._counters.items() if c.ends_at <= now and not c.waiting]:
                del self._counters[redis_key]  # a past window: forget it (memory stays bounded)
            batch = [(k, c, c.unsent, c.waiting) for k, c in self._counters.items() if c.unsent or c.waiting]
            if not batch:
                return
            for _, counter, unsent, _ in batch:
                counter.sending += unsent
                counter.unsent, counter.waiting = 0, []
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for redis_key, _, unsent, waiting in batch:
                        pipe.incrby(redis_key, unsent + len(waiting))
                    counts = await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - hits that wait get the error
                for _, counter, unsent, waiting in batch:
                    # Admitted hits stay counted here (the limit holds on this node while
                    # Redis is away) and go with the next round trip, a later hit's.
                    counter.sending -= unsent
                    counter.unsent += unsent
                    for _, verdict in waiting:
                        if not verdict.done():
                            verdict.set_exception(exc)
                log.debug("rate counters not sent to Redis", exc_info=True)
                if any(c.waiting for c in self._counters.values()):
                    continue  # hits that came meanwhile wait for a verdict: they get theirs
                return  # only admitted hits: they go with a later hit's round trip
            now = time.time()
            made = []
            for (redis_key, counter, unsent, waiting), count in zip(batch, counts):
                counter.sending -= unsent
                counter.known, counter.synced = count, True
                first = count - len(waiting)  # the counter before this round trip's waiting hits
                for n, (limit, verdict) in enumerate(waiting, start=1):
                    if not verdict.done():
                        verdict.set_result(ALLOWED if first + n <= limit else Verdict(False, counter.ends_at - now))
                if count == unsent + len(waiting):
                    made.append((redis_key, counter.seconds + 1))
            # The round trip that made a counter gives it its expiry, after the verdicts: one
            # EXPIRE per key and window, not one per key per round trip (half the commands).
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
