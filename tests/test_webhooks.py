"""Webhooks on one node: signed deliveries a real receiver verifies with `standardwebhooks`,
filters, retries, giving up, refused private addresses, and a crash while holding leases."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.clients import scrape_metrics, visitor_says
from tests.conftest import BACKENDS, served
from tests.factories import deliveries_of, make_site, make_webhook
from tests.receivers import BACKLOG, WEBHOOK_ENV, Receiver, metric_becomes, webhook_jobs
from tests.servers import ServerProcess

@pytest.fixture(scope="module", params=BACKENDS)
def hook_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with served(request.param, tmp_path_factory.mktemp("hooks-" + request.param), **WEBHOOK_ENV) as proc:
        yield proc


async def rows_when(
    server: ServerProcess, endpoint: Any, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The endpoint's delivery rows once ``done(rows)``; the last ones seen if that never came."""
    deadline = time.monotonic() + timeout
    rows = await deliveries_of(server, endpoint)
    while not done(rows) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rows = await deliveries_of(server, endpoint)
    return rows


async def test_each_event_arrives_once_signed(hook_server: ServerProcess, receiver: Receiver) -> None:
    site = await make_site(hook_server)
    endpoint = await make_webhook(hook_server, site, receiver.url)
    receiver.secret = endpoint.secret
    delivered_before = webhook_jobs(hook_server, "delivered")
    bodies = ["Hello", '<script>alert("x")</script>', "Привет, нужна доставка"]

    conversation_id = await visitor_says(hook_server, site.key, site.allowed_origins[0], bodies)

    await receiver.wait_for(lambda r: len(r.deliveries) == 4, "a conversation.created and three message.created")
    assert receiver.bad_signatures == 0
    assert all(count == 1 for count in receiver.accepted.values()), receiver.accepted
    created = receiver.payloads("conversation.created")
    assert [p["data"]["conversation"]["id"] for p in created] == [conversation_id]
    messages = receiver.payloads("message.created")
    # Visitor text is JSON data, byte for byte: nothing escaped into markup, nothing run.
    assert [p["data"]["message"]["body"] for p in messages] == bodies
    assert {p["data"]["site_key"] for p in messages} == {site.key}
    first = next(d for d in receiver.deliveries if d.payload["type"] == "message.created")
    assert first.webhook_id == f"evt_{first.payload['data']['event_id']}"
    assert first.headers["content-type"] == "application/json"
    # The signature by the Standard Webhooks spec, computed here without the library.
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{first.webhook_id}.{first.headers['webhook-timestamp']}.".encode() + first.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert first.headers["webhook-signature"] == f"v1,{expected}"

    rows = await deliveries_of(hook_server, endpoint)
    assert [(r["status"], r["attempts"], r["last_status_code"]) for r in rows] == [("done", 1, 204)] * 4
    assert webhook_jobs(hook_server, "delivered") - delivered_before == 4


async def test_only_subscribed_events_of_the_endpoints_site(hook_server: ServerProcess, receiver: Receiver) -> None:
    site, other_site = await make_site(hook_server), await make_site(hook_server)
    endpoint = await make_webhook(hook_server, site, receiver.url, event_types=("message.created",))
    receiver.secret = endpoint.secret

    await visitor_says(hook_server, other_site.key, other_site.allowed_origins[0], ["not for this endpoint"])
    await visitor_says(hook_server, site.key, site.allowed_origins[0], ["one", "two"])

    await receiver.wait_for(lambda r: len(r.deliveries) == 2, "two message.created")
    assert [p["type"] for p in receiver.payloads()] == ["message.created", "message.created"]
    assert [p["data"]["message"]["body"] for p in receiver.payloads()] == ["one", "two"]
    assert len(await deliveries_of(hook_server, endpoint)) == 2  # nothing queued for the rest


async def test_a_failing_receiver_gets_retries_with_the_same_id(hook_server: ServerProcess, receiver: Receiver) -> None:
    receiver.respond = lambda _id, before: 500 if before == 0 else 200  # fails once per event
    site = await make_site(hook_server)
    endpoint = await make_webhook(hook_server, site, receiver.url, event_types=("message.created",))
    receiver.secret = endpoint.secret

    await visitor_says(hook_server, site.key, site.allowed_origins[0], ["try again"])

    await receiver.wait_for(lambda r: len(r.deliveries) == 1, "the retried delivery")
    [delivery] = receiver.deliveries
    assert receiver.requests[delivery.webhook_id] == 2  # refused once, then accepted, one id
    [row] = await deliveries_of(hook_server, endpoint)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("done", 2, 200)


async def test_gives_up_after_the_schedule_and_keeps_the_chat(hook_server: ServerProcess, receiver: Receiver) -> None:
    receiver.respond = lambda _id, _before: 503
    site = await make_site(hook_server)
    endpoint = await make_webhook(hook_server, site, receiver.url, event_types=("message.created",))
    receiver.secret = endpoint.secret
    failed_before = webhook_jobs(hook_server, "failed")

    await visitor_says(hook_server, site.key, site.allowed_origins[0], ["nobody listens"])

    # The first attempt and the two retries of FRONTDESK_WEBHOOK_RETRY_SECONDS=1,1.
    await receiver.wait_for(lambda r: sum(r.requests.values()) == 3, "three attempts")
    rows = await rows_when(hook_server, endpoint, lambda rows: rows[0]["status"] == "failed")
    assert (rows[0]["status"], rows[0]["attempts"], rows[0]["last_status_code"]) == ("failed", 3, 503)
    assert webhook_jobs(hook_server, "failed") - failed_before == 1
    assert receiver.deliveries == []


async def test_private_addresses_are_refused_by_default(sqlite_server: ServerProcess, receiver: Receiver) -> None:
    """FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS is off: a name that resolves to loopback is
    refused at send time, and an address literal at creation."""
    from server.errors import Invalid

    site = await make_site(sqlite_server)
    with pytest.raises(Invalid) as refused:
        await make_webhook(sqlite_server, site, receiver.url)
    assert refused.value.code == "private_address" and refused.value.field == "url"

    endpoint = await make_webhook(sqlite_server, site, receiver.url.replace("127.0.0.1", "localhost"))
    await visitor_says(sqlite_server, site.key, site.allowed_origins[0], ["to my own network?"])
    rows = await rows_when(sqlite_server, endpoint, lambda rows: bool(rows and rows[0]["last_error"]))
    assert rows and "private or local address" in rows[0]["last_error"], rows
    assert sum(receiver.requests.values()) == 0


def test_cli_creates_and_lists_webhooks_and_names_bad_input(
    sqlite_server: ServerProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import main

    env = sqlite_server.env

    def frontdesk(*args: str) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [sys.executable, "-m", "server.cli", *args], env={**os.environ, **env}, capture_output=True, text=True,
            timeout=60,
        )

    created = frontdesk("create-site", "Hooks", "--origin", "https://shop.example.com")
    key = next(line.split()[1] for line in created.stdout.splitlines() if line.startswith("key:"))
    ok = frontdesk("create-webhook", key, "https://crm.example.com/in", "--event", "message.created")
    assert ok.returncode == 0, ok.stderr
    assert "secret: whsec_" in ok.stdout and "events: message.created" in ok.stdout
    listed = frontdesk("list-webhooks", "--site", key)
    assert "https://crm.example.com/in" in listed.stdout and "message.created" in listed.stdout

    for args, field in [
        ((key, "ftp://crm.example.com/in"), "(url)"),
        ((key, "https://10.0.0.5/in"), "(url)"),
        ((key, "https://crm.example.com/in", "--event", "lead.exploded"), "(event_type)"),
        (("fd_nosuchsite", "https://crm.example.com/in"), "(site)"),
        ((key, "https://crm.example.com/" + "x" * 2100), "(url)"),
        ((key, "https://crm.example.com/in\nX-Injected: 1"), "(url)"),
    ]:
        with monkeypatch.context() as patched:  # in-process: the refusals need no new interpreter each
            for name, value in env.items():
                patched.setenv(name, value)
            with pytest.raises(SystemExit) as exit_code:
                main(["create-webhook", *args])
        assert exit_code.value.code == 2 and field in capsys.readouterr().err, args
    assert frontdesk("list-webhooks", "--site", key).stdout == listed.stdout  # nothing else was stored


@pytest.fixture(params=BACKENDS)
def own_hook_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    with served(request.param, tmp_path, **WEBHOOK_ENV) as proc:
        yield proc


async def test_a_crash_while_holding_leases_loses_nothing(own_hook_server: ServerProcess, receiver: Receiver) -> None:
    """Killed (SIGKILL) while its requests hang: after the restart the leases expire, the
    new process takes the deliveries over, and each event is accepted once."""
    server = own_hook_server
    site = await make_site(server)
    endpoint = await make_webhook(server, site, receiver.url)
    receiver.secret = endpoint.secret
    receiver.open_gate.clear()  # requests hang: the node holds its leases

    await visitor_says(server, site.key, site.allowed_origins[0], ["before the crash", "me too"])
    await receiver.wait_for(lambda r: r.held == 3, "three requests in flight")
    server.kill()
    # What the dead node was waiting for never reached it; the takeover's attempt is accepted.
    receiver.respond = lambda _id, before: 503 if before == 0 else 204
    receiver.open_gate.set()
    await asyncio.to_thread(server.start)
    await metric_becomes(server, BACKLOG, 3)  # still leased by the dead process

    await receiver.wait_for(lambda r: len(r.deliveries) == 3, "all three after the takeover")
    assert all(count == 1 for count in receiver.accepted.values()), receiver.accepted
    assert all(count == 2 for count in receiver.requests.values()), receiver.requests  # same id again
    assert scrape_metrics(server)['frontdesk_worker_lease_takeovers_total{worker="webhooks"}'] == 3
    rows = await deliveries_of(server, endpoint)
    assert [(r["status"], r["claims"]) for r in rows] == [("done", 2)] * 3
    await metric_becomes(server, BACKLOG, 0)
