"""Several Frontdesk nodes on one PostgreSQL and one Redis: one chat across nodes, a
killed node's visitor resumes elsewhere, presence, sessions, nginx and --workers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clients import (
    OutboxVisitor,
    closed_for_ended_session,
    connect_operator,
    connect_visitor,
    console_login,
    log_out,
    new_id,
    scrape_metrics,
    start_visitor,
)
from tests.clusters import Cluster
from tests.conftest import Backend
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import REQUIRE_SERVICES, ServerProcess, free_port


async def test_chat_across_three_nodes(cluster: Cluster) -> None:
    a = cluster.add_node()
    b, c = cluster.add_node(), cluster.add_node()
    site = await make_site(a)
    operator = await make_operator(a, name="Olga")
    origin = site.allowed_origins[0]

    http = await console_login(c, operator.email, PASSWORD)
    console = await connect_operator(c, http)  # operator on node C
    session = await start_visitor(b, site.key, origin)
    assert session["operators_online"] is True  # node B knows the operator on C is online
    visitor, _ = await connect_visitor(a, site.key, origin, session["token"])  # visitor on node A

    await visitor.send({"type": "message.send", "id": new_id(), "body": "hello from node A"})
    message = await console.recv_until(lambda f: f["type"] == "message.created")
    assert message["message"]["body"] == "hello from node A"
    conversation_id = message["conversation_id"]
    await visitor.recv_until(lambda f: f["type"] == "ack")  # the visitor's socket now follows it

    await visitor.send({"type": "typing", "typing": True})
    assert (await console.recv_until(lambda f: f["type"] == "typing"))["conversation_id"] == conversation_id
    await console.send({"type": "message.send", "id": new_id(), "conversation_id": conversation_id, "body": "hi from C"})
    reply = await visitor.recv_until(lambda f: f["type"] == "message.created" and f["message"]["seq"] == 2)
    assert reply["message"]["body"] == "hi from C"
    await visitor.close()
    await console.close()
    await http.aclose()


async def test_a_leads_journey_and_a_verified_users_devices_across_nodes(cluster: Cluster) -> None:
    """Leads on several nodes (docs/leads.md): a page seen on node B reaches the operator on C
    as lead.updated; the user's laptop on A and phone on B share one conversation, live."""
    from server.services import leads

    a, b, c = cluster.add_node(), cluster.add_node(), cluster.add_node()
    site = await make_site(a)
    operator = await make_operator(a)
    origin = site.allowed_origins[0]
    http = await console_login(c, operator.email, PASSWORD)
    console = await connect_operator(c, http)
    good = leads.user_hash(site.identity_secret, "user-9")
    laptop_session, phone_session = await start_visitor(a, site.key, origin), await start_visitor(b, site.key, origin)
    laptop, _ = await connect_visitor(a, site.key, origin, laptop_session["token"])
    phone, _ = await connect_visitor(b, site.key, origin, phone_session["token"])
    try:
        await phone.send({"type": "page.viewed", "url": "https://shop.test/pricing", "title": "Pricing"})
        seen = await console.recv_until(lambda f: f.get("type") == "lead.updated" and f.get("page"))
        assert seen["lead"]["current_url"] == "https://shop.test/pricing"
        await laptop.send({"type": "visitor.identify", "id": new_id(), "user_id": "user-9", "user_hash": good})
        await laptop.recv_until(lambda f: f.get("type") == "identified")
        await laptop.send({"type": "message.send", "id": new_id(), "body": "from the laptop on A"})
        conversation_id = (await laptop.recv_until(lambda f: f.get("type") == "ack"))["conversation_id"]
        await phone.send({"type": "visitor.identify", "id": new_id(), "user_id": "user-9", "user_hash": good})
        token = (await phone.recv_until(lambda f: f.get("type") == "identified"))["token"]
        await phone.close()
        phone, welcome = await connect_visitor(b, site.key, origin, token)
        assert welcome["conversation"]["id"] == conversation_id
        await phone.recv_until(lambda f: f.get("type") == "message.created" and f["message"]["body"] == "from the laptop on A")
        await phone.send({"type": "message.send", "id": new_id(), "body": "from the phone on B"})
        live = await laptop.recv_until(lambda f: f.get("type") == "message.created"
                                       and f["message"]["body"] == "from the phone on B")
        assert (live["conversation_id"], live["message"]["seq"]) == (conversation_id, 2)
        to_operator = await console.recv_until(lambda f: f.get("type") == "message.created"
                                               and f["message"]["body"] == "from the phone on B")
        assert to_operator["conversation_id"] == conversation_id
    finally:
        for socket in (laptop, phone, console):
            await socket.close()
        await http.aclose()


async def test_visitor_of_a_killed_node_resumes_on_another(cluster: Cluster) -> None:
    a = cluster.add_node()
    b, c = cluster.add_node(), cluster.add_node()
    site = await make_site(a)
    operator = await make_operator(a)
    origin = site.allowed_origins[0]
    http = await console_login(c, operator.email, PASSWORD)
    console = await connect_operator(c, http)

    session = await start_visitor(a, site.key, origin)
    visitor = OutboxVisitor([a, b], site.key, origin, session["token"])  # A first, then B
    bodies = [f"m{i:03d}" for i in range(80)]

    async def kill_node_a() -> None:
        a.kill()

    await visitor.type_through_a_crash(bodies, crash_at=30, crash=kill_node_a)
    assert visitor.reconnects >= 1
    assert sorted(visitor.acked.values()) == list(range(1, len(bodies) + 1))

    # The live console on C got every message once, in the visitor's order — those of the
    # batch node A committed but was killed before publishing too (C read them from the table).
    seen: dict[int, str] = {}
    while len(seen) < len(bodies):
        frame = await console.recv()
        if frame["type"] == "message.created" and frame["conversation"]["site"]["id"] == site.id:
            assert frame["message"]["seq"] not in seen, "doubled on the operator's side"
            seen[frame["message"]["seq"]] = frame["message"]["body"]
    assert [seen[s] for s in sorted(seen)] == bodies
    await console.close()
    await http.aclose()


async def test_presence_expires_when_the_operators_node_dies(cluster: Cluster) -> None:
    a = cluster.add_node()
    b = cluster.add_node()
    site = await make_site(a)
    operator = await make_operator(a)
    origin = site.allowed_origins[0]
    http = await console_login(a, operator.email, PASSWORD)
    await connect_operator(a, http)  # operator on node A
    session = await start_visitor(b, site.key, origin)
    visitor, welcome = await connect_visitor(b, site.key, origin, session["token"])
    assert welcome["operators_online"] is True

    a.kill()  # no clean shutdown: only the heartbeat's expiry can tell
    started = time.monotonic()
    presence = await asyncio.wait_for(visitor.recv_until(lambda f: f["type"] == "presence"), 15)
    assert presence["operators_online"] is False
    assert time.monotonic() - started < 12
    await visitor.close()
    await http.aclose()


def test_second_process_without_redis_is_refused(tmp_path: Path) -> None:
    for name in ("sqlite", "postgres"):
        backend = Backend(name, tmp_path / name) if name == "sqlite" else None
        if backend is None:
            try:
                backend = Backend("postgres", tmp_path)
            except pytest.skip.Exception:
                continue
        (tmp_path / name).mkdir(exist_ok=True)
        from tests.conftest import start_server

        first = start_server(backend)
        try:
            second = subprocess.run(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(free_port())],
                env={**__import__("os").environ, **backend.env()}, capture_output=True, text=True, timeout=60,
            )
            assert second.returncode != 0
            assert "FRONTDESK_REDIS_URL" in second.stdout + second.stderr
        finally:
            first.stop()
            backend.close()


def test_nodes_starting_together_migrate_once(tmp_path: Path) -> None:
    backend = Backend("postgres", tmp_path)
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "server.cli", "migrate"],
                env={**__import__("os").environ, **backend.env()}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        from server.store.migrate import head_revision

        assert all(f"revision {head_revision()}" in out for out in outputs), outputs
    finally:
        backend.close()


async def test_login_throttle_is_shared_by_all_nodes(cluster: Cluster) -> None:
    a, b = cluster.add_node(), cluster.add_node()
    operator = await make_operator(a)
    import re as _re

    import httpx

    statuses = []
    for i in range(6):
        node = (a, b)[i % 2]  # the attacker spreads attempts over the nodes
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as client:
            page = await client.get("/console/login")
            token = _re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            response = await client.post(
                "/console/login", data={"email": operator.email, "password": "guess", "csrf_token": token.group(1)}
            )
            statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]


async def test_logout_on_one_node_closes_the_console_on_another(cluster: Cluster) -> None:
    """The session ends in the database and the hub tells every node: the console socket on
    node A closes at once (well before its periodic session check) when B serves the logout."""
    import httpx

    a, b = cluster.add_node(), cluster.add_node()
    operator = await make_operator(a)
    on_a = await console_login(a, operator.email, PASSWORD)
    console = await connect_operator(a, on_a)
    async with httpx.AsyncClient(base_url=b.url, cookies=on_a.cookies) as on_b:  # the same browser
        await log_out(on_b)
        assert (await on_b.get("/api/console/v1/conversations")).status_code == 401
    await closed_for_ended_session(console)
    assert (await on_a.get("/api/console/v1/conversations")).status_code == 401
    await on_a.aclose()


NGINX = "/usr/sbin/nginx"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream frontdesk {{ server 127.0.0.1:{a}; server 127.0.0.1:{b}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://frontdesk;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        location /ws/ {{
            proxy_pass http://frontdesk;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


class Proxy:
    """Looks like a ServerProcess to the test clients, but is nginx in front of the nodes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.origin = self.url


async def test_two_nodes_behind_nginx(cluster: Cluster) -> None:
    """The deployment of docs/deployment.md: nginx (Debian's) proxying HTTP and websockets."""
    import os
    import shutil

    import httpx

    if not (os.path.exists(NGINX) or shutil.which("nginx")):
        if REQUIRE_SERVICES:
            pytest.fail("nginx is required here (FRONTDESK_REQUIRE_SERVICES=1): apt-get install nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    port = free_port()
    cluster.env["FRONTDESK_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    cluster.env["FRONTDESK_TRUSTED_PROXIES"] = "127.0.0.1"  # nginx, as docs/deployment.md says
    a, b = cluster.add_node(), cluster.add_node()
    conf = cluster.tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=cluster.tmp, a=a.port, b=b.port, port=port))
    nginx = subprocess.Popen(
        [shutil.which("nginx") or NGINX, "-c", str(conf), "-p", str(cluster.tmp), "-e", str(cluster.tmp / "nginx-startup.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        from tests.servers import wait_for_http

        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=nginx)  # type: ignore[arg-type]
        proxy = Proxy(port)
        site = await make_site(a)
        operator = await make_operator(a, name="Olga")
        origin = site.allowed_origins[0]
        http = await console_login(proxy, operator.email, PASSWORD)  # type: ignore[arg-type]
        console = await connect_operator(proxy, http)  # type: ignore[arg-type]
        visitors = []
        for i in range(4):
            if i % 2:  # nginx round-robins per request: shift odd visitors' sockets to the other node
                httpx.get(proxy.url + "/healthz")
            session = await start_visitor(proxy, site.key, origin)  # type: ignore[arg-type]
            visitor, _ = await connect_visitor(proxy, site.key, origin, session["token"])  # type: ignore[arg-type]
            await visitor.send({"type": "message.send", "id": new_id(), "body": f"via nginx {i}"})
            visitors.append(visitor)
        bodies = set()
        while len(bodies) < 4:
            frame = await console.recv()
            if frame["type"] == "message.created" and frame["message"]["author"]["kind"] == "visitor":
                bodies.add(frame["message"]["body"])
                await console.send({"type": "message.send", "id": new_id(), "conversation_id": frame["conversation_id"],
                                    "body": "answer " + frame["message"]["body"]})
        assert bodies == {f"via nginx {i}" for i in range(4)}
        for i, visitor in enumerate(visitors):
            reply = await visitor.recv_until(lambda f: f["type"] == "message.created" and f["message"]["seq"] == 2)
            assert reply["message"]["body"] == f"answer via nginx {i}"
            await visitor.close()

        visitor_messages = [scrape_metrics(node).get('frontdesk_messages_acked_total{author="visitor"}', 0.0) for node in (a, b)]
        consoles = [scrape_metrics(node).get('frontdesk_websockets_open{kind="operator"}', 0.0) for node in (a, b)]
        await console.close()
        await http.aclose()
        # nginx spread the visitors over both nodes; one console on one node answered them all.
        assert sum(visitor_messages) == 4 and min(visitor_messages) >= 1, visitor_messages
        assert sorted(consoles) == [0.0, 1.0], consoles
    finally:
        nginx.terminate()
        nginx.wait(10)


async def test_serve_with_several_workers(cluster: Cluster) -> None:
    """`frontdesk serve --workers 3`: one port, three processes, one conversation space."""
    server = ServerProcess(env=cluster.env, log_path=cluster.tmp / "workers.log", extra_args=("--workers", "3"))
    server.start()
    cluster.nodes.append(server)
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    assert len(children) >= 3, children  # uvicorn's supervisor and its workers

    site = await make_site(server)
    operator = await make_operator(server)
    origin = site.allowed_origins[0]
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    visitors = []
    for i in range(6):  # the kernel spreads these connections over the workers
        session = await start_visitor(server, site.key, origin)
        visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
        await visitor.send({"type": "message.send", "id": new_id(), "body": f"worker test {i}"})
        visitors.append(visitor)
    seen = set()
    while len(seen) < 6:
        frame = await console.recv()
        if frame["type"] == "message.created":
            seen.add(frame["message"]["body"])
    assert seen == {f"worker test {i}" for i in range(6)}
    for visitor in visitors:
        await visitor.close()
    await console.close()
    await http.aclose()
