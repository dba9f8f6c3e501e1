"""The throttle behind every visitor limit: in-process buckets and Redis windows shared by nodes."""

from __future__ import annotations

import uuid
from typing import AsyncIterator

import pytest

from server.throttle import MemoryThrottle, RedisThrottle, SocketCounts
from tests.servers import REDIS_URL, require_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_allows_its_limit_at_once_then_refills_steadily() -> None:
    clock = Clock()
    throttle = MemoryThrottle(clock)
    verdicts = [await throttle.hit("typing", "v1", 6, 60.0) for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 6 + [False] * 2
    assert 9 < verdicts[-1].retry_after <= 10  # one token every 10 s
    assert (await throttle.hit("typing", "v2", 6, 60.0)).allowed  # keys are separate
    assert (await throttle.hit("identify", "v1", 6, 60.0)).allowed  # and so are names
    clock.now += 10
    assert (await throttle.hit("typing", "v1", 6, 60.0)).allowed
    assert not (await throttle.hit("typing", "v1", 6, 60.0)).allowed


async def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    throttle = MemoryThrottle(clock)
    for i in range(MemoryThrottle._SWEEP_EVERY):
        await throttle.hit("frames", f"visitor-{i}", 60, 60.0)
    clock.now += 61  # every bucket is full again: the same as none
    for i in range(MemoryThrottle._SWEEP_EVERY):
        await throttle.hit("frames", f"later-visitor-{i}", 60, 60.0)
    assert set(throttle._buckets) == {("frames", f"later-visitor-{i}") for i in range(MemoryThrottle._SWEEP_EVERY)}


def test_socket_counts_give_slots_back() -> None:
    counts = SocketCounts()
    assert [counts.acquire("10.0.0.1", 2) for _ in range(3)] == [True, True, False]
    assert counts.acquire("10.0.0.2", 2)
    counts.release("10.0.0.1")
    assert counts.acquire("10.0.0.1", 2)
    for _ in range(3):
        counts.release("10.0.0.1")
    assert counts._open == {"10.0.0.2": 1}


@pytest.fixture
async def redis_nodes() -> AsyncIterator[tuple[RedisThrottle, RedisThrottle]]:
    require_redis()
    from redis.asyncio import Redis

    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    a, b = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    yield RedisThrottle(a, prefix), RedisThrottle(b, prefix)
    keys = [k async for k in a.scan_iter(match=prefix + "*")]
    if keys:
        await a.delete(*keys)
    await a.aclose()
    await b.aclose()


async def flushed(throttle: RedisThrottle) -> None:
    """Until the hits this node admitted are in Redis (its round trips are over)."""
    if throttle._flushing is not None:
        await throttle._flushing


async def test_redis_counters_are_shared_by_nodes(redis_nodes: tuple[RedisThrottle, RedisThrottle]) -> None:
    """A key's first hit on a node waits for Redis, so it counts every node's hits sent so
    far; later hits are decided on the node (this node's hits since, and the other nodes'
    as of its last round trip) and reach Redis within ``sync_seconds``."""
    one, two = redis_nodes
    assert [(await one.hit("typing", "v1", 5, 60.0)).allowed for _ in range(3)] == [True] * 3
    await flushed(one)
    verdicts = [await two.hit("typing", "v1", 5, 60.0) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert 0 < verdicts[-1].retry_after <= 60
    # Node one has not heard of two's hits yet: one more passes there (the bound of a
    # shared counter), then its round trip brings them, and it refuses too.
    assert (await one.hit("typing", "v1", 5, 60.0)).allowed
    await flushed(two)
    await flushed(one)
    assert not (await one.hit("typing", "v1", 5, 60.0)).allowed
    assert not (await two.hit("typing", "v1", 5, 60.0)).allowed
    assert (await one.hit("typing", "v2", 5, 60.0)).allowed


async def test_on_one_node_exactly_the_limit_passes_with_one_round_trip_a_key(
    redis_nodes: tuple[RedisThrottle, RedisThrottle], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a key's first round trip its hits are decided at once (no round trip each):
    exactly the limit passes, and Redis gets them as one INCRBY."""
    one, _ = redis_nodes
    assert (await one.hit("messages", "v7", 6, 60.0)).allowed
    sent: list[tuple[str, int]] = []
    incrby = type(one._redis.pipeline()).incrby

    def counted(pipe: object, key: str, amount: int) -> object:
        sent.append((key, amount))
        return incrby(pipe, key, amount)

    monkeypatch.setattr(type(one._redis.pipeline()), "incrby", counted)
    verdicts = [await one.hit("messages", "v7", 6, 60.0) for _ in range(9)]
    assert [v.allowed for v in verdicts] == [True] * 5 + [False] * 4
    await flushed(one)
    assert [amount for _, amount in sent] == [5]
    assert int(await one._redis.get(sent[0][0])) == 6


async def test_redis_counters_counted_in_batches_still_allow_exactly_the_limit(
    redis_nodes: tuple[RedisThrottle, RedisThrottle],
) -> None:
    """Hits that arrive together share a round trip (one INCRBY per key), and the limit
    holds across them and across nodes: exactly ``limit`` of a burst get through."""
    import asyncio

    one, two = redis_nodes
    burst = [one.hit("messages", "v3", 7, 60.0) for _ in range(10)] + [two.hit("messages", "v3", 7, 60.0) for _ in range(10)]
    burst += [one.hit("messages", "v4", 3, 60.0) for _ in range(4)]
    verdicts = await asyncio.gather(*burst)
    assert sum(v.allowed for v in verdicts[:20]) == 7
    assert [v.allowed for v in verdicts[20:]] == [True, True, True, False]
    assert all(0 < v.retry_after <= 60 for v in verdicts if not v.allowed)


async def test_redis_counters_expire_after_their_window(redis_nodes: tuple[RedisThrottle, RedisThrottle]) -> None:
    """The round trip that makes a counter gives it its expiry (not every round trip): a
    window's counter is gone from Redis after the window, whichever node made it."""
    import asyncio

    one, two = redis_nodes
    await asyncio.gather(*(one.hit("messages", "v5", 100, 60.0) for _ in range(3)))
    await two.hit("messages", "v5", 100, 60.0)
    await two.hit("typing", "v6", 100, 60.0)
    await asyncio.gather(*(t._flushing for t in (one, two) if t._flushing is not None))
    keys = [k async for k in one._redis.scan_iter(match=one._prefix + "*")]
    assert len(keys) == 2
    for key in keys:
        assert 0 < await one._redis.ttl(key) <= 61


async def test_without_redis_every_waiting_hit_gets_an_error_and_none_hangs() -> None:
    """A Redis that does not answer: each hit that waits for a verdict gets the error,
    including one that came while the failing round trip was out."""
    import asyncio
    import socket

    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    redis = Redis(host="127.0.0.1", port=silent.getsockname()[1], socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    throttle = RedisThrottle(redis, "test:")
    try:
        first = asyncio.ensure_future(throttle.hit("messages", "v1", 5, 60.0))
        await asyncio.sleep(0.2)  # its round trip is out
        second = asyncio.ensure_future(throttle.hit("messages", "v2", 5, 60.0))
        outcomes = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 10)
        assert all(isinstance(o, Exception) for o in outcomes), outcomes
    finally:
        await redis.aclose()
        silent.close()
