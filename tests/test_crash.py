"""Nothing lost, nothing doubled: SIGKILL the server while a visitor is sending."""

from __future__ import annotations

import asyncio

from tests.clients import OutboxVisitor, console_login, start_visitor
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


async def test_sigkill_while_sending_loses_and_doubles_nothing(own_server: ServerProcess) -> None:
    server = own_server
    site = await make_site(server)
    operator = await make_operator(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor = OutboxVisitor(server, site.key, origin, session["token"])
    bodies = [f"message {i:03d}" for i in range(120)]

    async def crash_and_restart() -> None:
        server.kill()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)

    await visitor.type_through_a_crash(bodies, crash_at=40, crash=crash_and_restart)

    assert visitor.reconnects >= 1, "the server was never seen to go away"
    assert len(visitor.acked) == len(bodies)
    assert sorted(visitor.acked.values()) == list(range(1, len(bodies) + 1))

    # The operator's side: exactly the typed messages, once each, in order.
    http = await console_login(server, operator.email, PASSWORD)
    listed = (await http.get("/api/console/v1/conversations")).json()["conversations"]
    (conversation,) = [c for c in listed if c["site"]["id"] == site.id]
    messages = (await http.get(f"/api/console/v1/conversations/{conversation['id']}/messages")).json()["messages"]
    assert [m["body"] for m in messages] == bodies
    assert [m["seq"] for m in messages] == list(range(1, len(bodies) + 1))
    await http.aclose()

    # The visitor's side, after a reload (replay from seq 0): the same, then the new one.
    replay = OutboxVisitor(server, site.key, origin, session["token"])
    replay.type_message("after the storm")
    await asyncio.wait_for(replay.run(stop_when_empty=True), 10)
    thread = [replay.received[s] for s in sorted(replay.received)]
    assert thread[: len(bodies)] == bodies
    assert list(replay.acked.values()) == [len(bodies) + 1]
