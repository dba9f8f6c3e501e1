"""Nothing lost, nothing doubled: SIGKILL the server while a visitor is sending."""

from __future__ import annotations

import asyncio
import json
import random

import websockets

from tests.clients import console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


class OutboxVisitor:
    """Behaves like the widget: un-acked messages are kept and re-sent after reconnecting."""

    def __init__(self, server: ServerProcess, site_key: str, origin: str, token: str) -> None:
        self.server, self.site_key, self.origin, self.token = server, site_key, origin, token
        self.outbox: list[dict[str, str]] = []
        self.acked: dict[str, int] = {}
        self.received: dict[int, str] = {}  # seq -> body, as the visitor's thread shows it
        self.reconnects = 0

    def type_message(self, body: str) -> None:
        self.outbox.append({"type": "message.send", "id": new_id(), "body": body})

    async def session(self, stop_when_empty: bool) -> None:
        """One connection: hello, re-send the outbox, read until it drops (or all acked)."""
        async with websockets.connect(f"{self.server.ws_url}/ws/visitor?site={self.site_key}", origin=self.origin) as ws:
            last_seq = max(self.received, default=0)
            await ws.send(json.dumps({"type": "hello", "token": self.token, "last_seq": last_seq}))
            for frame in list(self.outbox):
                await ws.send(json.dumps(frame))
            sent = {f["id"] for f in self.outbox}
            while True:
                for frame in list(self.outbox):  # typed while connected
                    if frame["id"] not in sent:
                        sent.add(frame["id"])
                        await ws.send(json.dumps(frame))
                if stop_when_empty and not self.outbox:
                    return
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.2)
                except asyncio.TimeoutError:
                    continue
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    self.acked[frame["id"]] = frame["seq"]
                    self.outbox = [f for f in self.outbox if f["id"] != frame["id"]]
                elif frame["type"] == "message.created":
                    seq = frame["message"]["seq"]
                    assert seq not in self.received or self.received[seq] == frame["message"]["body"]
                    self.received[seq] = frame["message"]["body"]

    async def run(self, stop_when_empty: bool = False) -> None:
        delay = 0.1
        while True:
            try:
                await self.session(stop_when_empty)
                return
            except (OSError, websockets.ConnectionClosed, websockets.InvalidStatus, websockets.InvalidMessage):
                self.reconnects += 1
                await asyncio.sleep(delay * random.uniform(0.7, 1.3))
                delay = min(delay * 2, 1.0)


async def test_sigkill_while_sending_loses_and_doubles_nothing(own_server: ServerProcess) -> None:
    server = own_server
    site = await make_site(server)
    operator = await make_operator(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor = OutboxVisitor(server, site.key, origin, session["token"])
    bodies = [f"message {i:03d}" for i in range(120)]

    async def typist() -> None:
        for i, body in enumerate(bodies):
            visitor.type_message(body)
            if i == 40:
                server.kill()  # mid-stream: some sent, some in flight, some not typed yet
                await asyncio.sleep(0.3)
                await asyncio.to_thread(server.start)
            await asyncio.sleep(0.005)

    reader = asyncio.create_task(visitor.run())
    await typist()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await asyncio.wait_for(visitor.run(stop_when_empty=True), 30)

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
