"""Protocol clients that speak like the widget and the console do."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from typing import Any, Awaitable, Callable

import httpx
import websockets

from tests.servers import ServerProcess

TIMEOUT = 10.0


def new_id() -> str:
    return str(uuid.uuid4())


class FrameClient:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))

    async def recv_until(self, predicate: Any) -> dict[str, Any]:
        """Frames until one matches; the others are kept in .seen."""
        while True:
            frame = await self.recv()
            self.seen.append(frame)
            if predicate(frame):
                return frame

    @property
    def seen(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_seen"):
            self._seen: list[dict[str, Any]] = []
        return self._seen

    async def close(self) -> None:
        await self.ws.close()


# Tests share two cores with other test files' servers (parallel runs): a login's password
# hash can wait seconds for a core. Generous, so a slow machine is not a failure; speed is
# measured in bench/, never here.
HTTP_TIMEOUT = httpx.Timeout(30.0)


async def start_visitor(server: ServerProcess, site_key: str, origin: str, token: str | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        response = await client.post(
            f"{server.url}/api/widget/v1/sites/{site_key}/visitors", json={"token": token}, headers={"Origin": origin}
        )
    response.raise_for_status()
    return response.json()


async def connect_visitor(
    server: ServerProcess, site_key: str, origin: str, token: str, last_seq: int = 0
) -> tuple[FrameClient, dict[str, Any]]:
    # close_timeout: a test that leaves frames unread (the client stops reading past 16) need not wait 10 s.
    ws = await websockets.connect(f"{server.ws_url}/ws/visitor?site={site_key}", origin=origin, close_timeout=1)
    client = FrameClient(ws)
    await client.send({"type": "hello", "token": token, "last_seq": last_seq})
    welcome = await client.recv()
    assert welcome["type"] == "welcome", welcome
    return client, welcome


async def console_login(server: ServerProcess, email: str, password: str) -> httpx.AsyncClient:
    """An httpx client holding a console session, logged in through the form."""
    client = httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT)
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "login form has no CSRF token"
    response = await client.post("/console/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text
    return client


async def log_out(http: httpx.AsyncClient) -> None:
    """Press the console's "Log out" button (its form carries the CSRF token)."""
    inbox = await http.get("/console/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', inbox.text)
    assert token, "the inbox has no logout form"
    response = await http.post("/console/logout", data={"csrf_token": token.group(1)})
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


async def closed_for_ended_session(console: FrameClient) -> None:
    """The socket says the session ended (unauthorized) and closes with 4401."""
    error = await console.recv_until(lambda f: f["type"] == "error")
    assert error["code"] == "unauthorized" and error["message"]
    try:
        frame = await console.recv()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401, closed
    else:
        raise AssertionError(f"the socket stayed open and sent {frame}")


async def connect_operator(server: ServerProcess, http: httpx.AsyncClient, after_event: int | None = None) -> FrameClient:
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws = await websockets.connect(
        f"{server.ws_url}/ws/console", origin=server.origin, additional_headers={"Cookie": cookie}
    )
    client = FrameClient(ws)
    await client.send({"type": "hello", "after_event": after_event})
    welcome = await client.recv()
    assert welcome["type"] == "welcome", welcome
    return client


class OutboxVisitor:
    """Behaves like the widget: un-acked messages are kept and re-sent after reconnecting."""

    def __init__(self, servers: ServerProcess | list[ServerProcess], site_key: str, origin: str, token: str) -> None:
        # Several servers: reconnects go round them, as behind a load balancer.
        self.servers = servers if isinstance(servers, list) else [servers]
        self.site_key, self.origin, self.token = site_key, origin, token
        self.outbox: list[dict[str, str]] = []
        self.acked: dict[str, int] = {}
        self.received: dict[int, str] = {}  # seq -> body, as the visitor's thread shows it
        self.reconnects = 0
        # A flag, not task.cancel(): Python 3.11's wait_for can swallow a cancellation that
        # meets its own timeout, and a reader looping on short timeouts would never stop.
        self.stopping = False

    def type_message(self, body: str) -> None:
        self.outbox.append({"type": "message.send", "id": new_id(), "body": body})

    async def session(self, stop_when_empty: bool) -> None:
        """One connection: hello, re-send the outbox, read until it drops (or all acked)."""
        server = self.servers[self.reconnects % len(self.servers)]
        async with websockets.connect(f"{server.ws_url}/ws/visitor?site={self.site_key}", origin=self.origin) as ws:
            last_seq = max(self.received, default=0)
            await ws.send(json.dumps({"type": "hello", "token": self.token, "last_seq": last_seq}))
            # Only what was re-sent counts as sent: a message typed during these awaits is
            # sent by the loop below (marking it sent unsent made it arrive after later ones).
            resend = list(self.outbox)
            for frame in resend:
                await ws.send(json.dumps(frame))
            sent = {f["id"] for f in resend}
            while True:
                for frame in list(self.outbox):  # typed while connected
                    if frame["id"] not in sent:
                        sent.add(frame["id"])
                        await ws.send(json.dumps(frame))
                if (stop_when_empty and not self.outbox) or self.stopping:
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
                if self.stopping:
                    return
                self.reconnects += 1
                await asyncio.sleep(delay * random.uniform(0.7, 1.3))
                delay = min(delay * 2, 1.0)

    async def type_through_a_crash(
        self, bodies: list[str], *, crash_at: int, crash: Callable[[], Awaitable[None]]
    ) -> None:
        """Type ``bodies`` a few ms apart while connected, calling ``crash`` midway, then
        keep going until every message is acked."""

        async def typist() -> None:
            for i, body in enumerate(bodies):
                self.type_message(body)
                if i == crash_at:
                    await crash()  # mid-stream: some sent, some in flight, some not typed yet
                await asyncio.sleep(0.005)

        reader = asyncio.create_task(self.run())
        await typist()
        self.stopping = True
        await asyncio.wait_for(reader, 20)
        self.stopping = False
        await asyncio.wait_for(self.run(stop_when_empty=True), 30)


def scrape_metrics(server: ServerProcess) -> dict[str, float]:
    """A node's /metrics as {'name{labels}': value}."""
    values = {}
    for line in httpx.get(server.url + "/metrics", timeout=TIMEOUT).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def visitor_says(server: ServerProcess, site_key: str, origin: str, bodies: list[str]) -> str:
    """A new visitor sends ``bodies``, each acked; returns the conversation id."""
    session = await start_visitor(server, site_key, origin)
    visitor, _ = await connect_visitor(server, site_key, origin, session["token"])
    conversation_id = ""
    for body in bodies:
        await visitor.send({"type": "message.send", "id": new_id(), "body": body})
        ack = await visitor.recv_until(lambda f: f["type"] == "ack")
        conversation_id = ack["conversation_id"]
    await visitor.close()
    return conversation_id
