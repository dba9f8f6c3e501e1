"""Live delivery under load loses nothing: writers on two nodes committing in parallel,
and several processes on one SQLite file with Redis."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from tests.clients import FrameClient, connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.clusters import Cluster
from tests.conftest import Backend
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import REDIS_URL, ServerProcess, require_redis


async def messages_the_console_missed(
    visitor_nodes: list[ServerProcess], console_node: ServerProcess, *, visitors: int, each: int
) -> int:
    """Visitors spread over ``visitor_nodes`` each send ``each`` messages at once; returns
    how many of those stored messages a live console on ``console_node`` never got."""
    site = await make_site(console_node)
    operator = await make_operator(console_node)
    origin = site.allowed_origins[0]
    http = await console_login(console_node, operator.email, PASSWORD)
    console = await connect_operator(console_node, http)
    sockets = []
    for i in range(visitors):
        node = visitor_nodes[i % len(visitor_nodes)]
        session = await start_visitor(node, site.key, origin)
        sockets.append((await connect_visitor(node, site.key, origin, session["token"]))[0])

    async def chatter(visitor: FrameClient, n: int) -> None:
        for j in range(each):
            await visitor.send({"type": "message.send", "id": new_id(), "body": f"v{n} m{j}"})
        acks = 0
        while acks < each:
            acks += (await visitor.recv())["type"] == "ack"

    await asyncio.gather(*(chatter(v, n) for n, v in enumerate(sockets)))
    received: set[str] = set()
    try:
        while len(received) < visitors * each:
            frame = await asyncio.wait_for(console.recv(), 5)
            if frame["type"] == "message.created":
                received.add(frame["message"]["body"])
    except asyncio.TimeoutError:
        pass
    for visitor in sockets:
        await visitor.close()
    await console.close()
    await http.aclose()
    return visitors * each - len(received)


async def test_live_delivery_across_nodes_loses_nothing_under_load(cluster: Cluster) -> None:
    """Writers on two nodes commit in parallel, so their event ids commit and are published
    out of order: a console that de-duplicates by event id must still get every one (each
    relay holds an id until every lower one is delivered or final). (Publishing without
    ordering once lost a few percent of the messages.)"""
    a, b = cluster.add_node(), cluster.add_node()
    missing = await messages_the_console_missed([a, b], a, visitors=16, each=25)
    assert missing == 0, f"{missing} stored messages never reached the live console"


async def test_sqlite_with_redis_and_workers_keeps_delivery_order(tmp_path: Path) -> None:
    """Several processes on one SQLite file (with Redis) take turns through a file lock."""
    require_redis()
    env = {
        **Backend("sqlite", tmp_path).env(),
        "FRONTDESK_REDIS_URL": REDIS_URL,
        "FRONTDESK_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:10]}:",
    }
    server = ServerProcess(env=env, log_path=tmp_path / "workers.log", extra_args=("--workers", "2"))
    await asyncio.to_thread(server.start)
    try:
        missing = await messages_the_console_missed([server], server, visitors=8, each=10)
        assert missing == 0, f"{missing} stored messages never reached the live console"
    finally:
        server.stop()
