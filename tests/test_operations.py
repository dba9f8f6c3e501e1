"""What operators of the server need: health, readiness, metrics."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from tests.clients import connect_visitor, new_id, scrape_metrics, start_visitor
from tests.factories import make_site
from tests.servers import ServerProcess


async def test_health_and_readiness(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_metrics_count_sockets_and_messages(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]

    before = scrape_metrics(server)
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    for _ in range(3):
        await visitor.send({"type": "message.send", "id": new_id(), "body": "counted"})
        await visitor.recv_until(lambda f: f["type"] == "ack")
    during = scrape_metrics(server)
    await visitor.close()

    key = 'frontdesk_messages_acked_total{author="visitor"}'
    assert during[key] - before.get(key, 0) == 3
    assert during['frontdesk_websockets_open{kind="visitor"}'] == before.get('frontdesk_websockets_open{kind="visitor"}', 0) + 1
    assert during["frontdesk_message_ack_seconds_count"] - before.get("frontdesk_message_ack_seconds_count", 0) == 3
    assert during["frontdesk_writer_commits_total"] > before.get("frontdesk_writer_commits_total", 0)


def test_json_logs_carry_request_ids_and_no_visitor_data(tmp_path: object) -> None:
    import asyncio
    import json
    from pathlib import Path

    from tests.conftest import Backend, start_server

    backend = Backend("sqlite", Path(str(tmp_path)))
    server = start_server(backend, FRONTDESK_LOG_FORMAT="json", FRONTDESK_LOG_LEVEL="info")
    try:
        async def chat() -> str:
            site = await make_site(server)
            origin = site.allowed_origins[0]
            session = await start_visitor(server, site.key, origin)
            visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
            await visitor.send({"type": "visitor.identify", "id": new_id(), "email": "secret.person@example.com"})
            await visitor.send({"type": "message.send", "id": new_id(), "body": "my card number is 4111-SECRET-CARD"})
            await visitor.recv_until(lambda f: f["type"] == "ack" and "seq" in f)
            await visitor.close()
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                response = await client.get("/readyz", headers={"X-Request-Id": "probe-123"})
            return response.headers["x-request-id"]

        assert asyncio.run(chat()) == "probe-123"
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    assert lines, "no JSON log lines"
    for line in lines:
        json.loads(line)
    log = server.log()
    assert "SECRET-CARD" not in log and "secret.person" not in log
    assert " - \"GET " not in log and "WebSocket /ws" not in log  # no access lines (client IPs) at info


def test_a_fresh_data_directory_is_readable_by_the_server_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data directory holds password hashes, webhook secrets, the signing key and
    visitors' data: made 0700 with files 0600, though the usual umask (022) would let
    every user of the machine read them."""
    import asyncio

    from server.cli import main

    data = tmp_path / "srv" / "frontdesk"
    env = {"FRONTDESK_DATA_DIR": str(data), "FRONTDESK_LOG_LEVEL": "warning"}
    for name in ("FRONTDESK_DATABASE_URL", "FRONTDESK_SECRET_KEY", "FRONTDESK_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    old_umask = os.umask(0o022)
    try:
        assert main(["migrate"]) == 0
        server = ServerProcess(env=env, log_path=tmp_path / "server.log").start()
        try:
            async def chat() -> None:  # a write, so the -wal and -shm files exist
                site = await make_site(server)
                session = await start_visitor(server, site.key, site.allowed_origins[0])
                visitor, _ = await connect_visitor(server, site.key, site.allowed_origins[0], session["token"])
                await visitor.send({"type": "message.send", "id": new_id(), "body": "kept private"})
                await visitor.recv_until(lambda f: f["type"] == "ack")
                await visitor.close()

            asyncio.run(chat())
            modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in data.iterdir()}
        finally:
            server.stop()
    finally:
        os.umask(old_umask)
    print("modes:", modes)
    assert oct(stat.S_IMODE(data.stat().st_mode)) == "0o700"
    assert {"frontdesk.db", "frontdesk.db-wal", "frontdesk.db-shm", "secret_key"} <= set(modes), modes
    assert set(modes.values()) == {"0o600"}, modes
