"""A node killed after a commit but before publishing it (its Redis publishes held by a
proxy): every committed event still reaches every live client on the other node, once
each and in order, on PostgreSQL and on one shared SQLite file (issue 20)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.conftest import Backend
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import REDIS_URL, ServerProcess, require_redis


class PublishHoldingProxy:
    """A TCP proxy in front of Redis for one node. While ``holding``, a connection that
    sends a PUBLISH has that and everything after it kept from Redis: the node has
    committed a batch and is stuck publishing it (until it is killed)."""

    def __init__(self) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(REDIS_URL)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.db = parts.path or "/0"
        self.holding = False
        self.held = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.db}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.append(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, outbound: bool) -> None:
            held = False
            try:
                while data := await src.read(65536):
                    if outbound and self.holding and b"PUBLISH" in data.upper():
                        held = True
                        self.held += 1
                    if not held:
                        dst.write(data)
                        await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    async def close(self) -> None:
        """Ends every piped connection before the test's loop closes (a task left pending
        would be cancelled by the loop's teardown and its unclosed writers reported as
        warnings against whichever test runs next on this worker)."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


@pytest.fixture(params=["postgres", "sqlite"])
def shared_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of nodes sharing one migrated database (PostgreSQL, or one SQLite
    file) and Redis."""
    require_redis()
    backend = Backend(request.param, tmp_path)
    env = {**backend.env(), "FRONTDESK_REDIS_URL": REDIS_URL, "FRONTDESK_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:10]}:"}
    from server.cli import main

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["migrate"]) == 0
    yield env
    backend.close()


async def test_events_of_a_node_killed_before_publishing_reach_live_clients(
    tmp_path: Path, shared_backend: dict[str, str]
) -> None:
    """Node A commits an operator's reply, then dies (SIGKILL) before its publication leaves
    (held by a proxy in front of its Redis): the visitor and the console live on node B must
    still get it — with nothing committed after it to reveal the gap — then what follows,
    once each and in order. (SQLite: two processes on one database file.)"""
    env = shared_backend
    proxy = PublishHoldingProxy()
    a = ServerProcess(env={**env, "FRONTDESK_REDIS_URL": await proxy.start()}, log_path=tmp_path / "a.log")
    b = ServerProcess(env=env, log_path=tmp_path / "b.log")
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        site = await make_site(b)
        operator = await make_operator(b, name="Olga")
        origin = site.allowed_origins[0]
        on_a, on_b = await console_login(a, operator.email, PASSWORD), await console_login(b, operator.email, PASSWORD)
        console_a, console_b = await connect_operator(a, on_a), await connect_operator(b, on_b)
        session = await start_visitor(b, site.key, origin)
        visitor, _ = await connect_visitor(b, site.key, origin, session["token"])
        await visitor.send({"type": "message.send", "id": new_id(), "body": "is anyone there?"})
        await visitor.recv_until(lambda f: f["type"] == "ack")
        first = await console_b.recv_until(lambda f: f["type"] == "message.created")
        conversation_id = first["conversation_id"]
        await console_a.recv_until(lambda f: f["type"] == "message.created")

        proxy.holding = True
        await console_a.send({"type": "message.send", "id": new_id(), "conversation_id": conversation_id, "body": "yes, Olga here"})
        for _ in range(200):  # until A has committed it (read through B)
            listed = (await on_b.get(f"/api/console/v1/conversations/{conversation_id}/messages")).json()["messages"]
            if len(listed) == 2:
                break
            await asyncio.sleep(0.05)
        assert [m["body"] for m in listed] == ["is anyone there?", "yes, Olga here"]
        for _ in range(100):  # the commit shows before A sends its publication: wait for the send
            if proxy.held:
                break
            await asyncio.sleep(0.02)
        assert proxy.held >= 1, "A published its batch: nothing was held"
        a.kill()

        def reply(f: dict) -> bool:  # type: ignore[type-arg]
            return f["type"] == "message.created" and f["message"]["seq"] == 2

        assert (await visitor.recv_until(reply))["message"]["body"] == "yes, Olga here"
        assert (await console_b.recv_until(reply))["message"]["body"] == "yes, Olga here"

        await visitor.send({"type": "message.send", "id": new_id(), "body": "thanks"})
        after = await console_b.recv_until(lambda f: f["type"] == "message.created")
        assert (after["message"]["seq"], after["message"]["body"]) == (3, "thanks")
        seen = [f["message"]["seq"] for f in visitor.seen if f["type"] == "message.created"]
        seen.append((await visitor.recv_until(lambda f: f["type"] == "message.created"))["message"]["seq"])
        assert seen == [1, 2, 3], seen
        for client in (visitor, console_a, console_b):
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - A's socket died with A
                pass
        await on_a.aclose()
        await on_b.aclose()
    finally:
        a.kill()
        b.stop()
        await proxy.close()
