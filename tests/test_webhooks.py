"""Webhooks on one node: signed deliveries a real receiver verifies with `standardwebhooks`,
filters, retries, giving up, refused private addresses, and a crash while holding leases."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.clients import scrape_metrics, visitor_says
from tests.conftest import BACKENDS, served
from tests.factories import deliveries_of, deliveries_when, make_site, make_webhook, settings_for
from tests.receivers import BACKLOG, WEBHOOK_ENV, Receiver, metric_becomes, webhook_jobs
from tests.servers import ServerProcess

@pytest.fixture(scope="module", params=BACKENDS)
def hook_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with served(request.param, tmp_path_factory.mktemp("hooks-" + request.param), **WEBHOOK_ENV) as proc:
        yield proc


async def test_each_event_arrives_once_signed(hook_server: ServerProcess, receiver: Receiver) -> None:
    site = await make_site(hook_server)
    endpoint = await make_webhook(hook_server, site, receiver.url)
    receiver.secret = endpoint.secret
    delivered_before = webhook_jobs(hook_server, "delivered")
    bodies = ["Hello", '<script>alert("x")</script>', "Привет, нужна доставка"]

    conversation_id = await visitor_says(hook_server, site.key, site.allowed_origins[0], bodies)

    await receiver.wait_for(  # the visitor registered: a lead.created first (docs/leads.md)
        lambda r: len(r.deliveries) == 5, "a lead.created, a conversation.created and three message.created"
    )
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

    # The receiver answers before the sender records it: wait for the rows, not the requests.
    rows = await deliveries_when(hook_server, endpoint, lambda rows: all(r["status"] == "done" for r in rows))
    assert [(r["status"], r["attempts"], r["last_status_code"]) for r in rows] == [("done", 1, 204)] * 5
    assert webhook_jobs(hook_server, "delivered") - delivered_before == 5


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
    [row] = await deliveries_when(hook_server, endpoint, lambda rows: rows[0]["status"] != "pending")
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
    rows = await deliveries_when(hook_server, endpoint, lambda rows: rows[0]["status"] == "failed")
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
    rows = await deliveries_when(sqlite_server, endpoint, lambda rows: bool(rows and rows[0]["last_error"]))
    assert rows and "private or local address" in rows[0]["last_error"], rows
    assert sum(receiver.requests.values()) == 0


# How an address can be spelt in a URL so that the HTTP client still connects to it:
# look-alike digits and dots (IDNA maps them to ASCII), IPv6 forms that embed the IPv4
# address, and the legacy forms the system resolver accepts.
def _spellings(a: int, b: int, c: int, d: int) -> dict[str, str]:
    def digits(zero: int) -> str:  # the address in another run of ten digits
        return ".".join("".join(chr(zero + int(ch)) for ch in str(n)) for n in (a, b, c, d))

    circled = ".".join("".join("⓪①②③④⑤⑥⑦⑧⑨"[int(ch)] for ch in str(n)) for n in (a, b, c, d))
    plain = f"{a}.{b}.{c}.{d}"
    v4 = f"{a:02x}{b:02x}:{c:02x}{d:02x}"
    return {
        "fullwidth": digits(0xFF10),
        "ideographic-stops": plain.replace(".", "\u3002"),
        "fullwidth-stops": plain.replace(".", "\uff0e"),
        "bold": digits(0x1D7CE),
        "circled": circled,
        "v4-mapped": f"[::ffff:{plain}]",
        "v4-compatible": f"[::{plain}]",
        "nat64": f"[64:ff9b::{v4}]",
        "6to4": f"[2002:{v4}::1]",
        "one-number": str((a << 24) | (b << 16) | (c << 8) | d),
    }


PRIVATE_SPELLINGS = [
    pytest.param(host, id=f"{address}-{form}")
    for address in ("127.0.0.1", "169.254.169.254", "10.0.0.1")
    for form, host in _spellings(*map(int, address.split("."))).items()
] + [pytest.param(host, id=host) for host in ("[::1]", "[fe80::1%25eth0]", "[64:ff9b:1::a00:1]", "0x7f.1", "127.1", "0")]


@pytest.mark.parametrize("host", PRIVATE_SPELLINGS)
def test_every_spelling_of_a_private_address_is_refused_at_registration(host: str) -> None:
    from server.errors import Invalid
    from server.services.webhooks import endpoint_url

    url = f"https://{host}:8443/hooks"
    with pytest.raises(Invalid) as refused:
        endpoint_url(url, allow_private=False)
    assert (refused.value.code, refused.value.field) == ("private_address", "url")
    assert endpoint_url(url, allow_private=True) == url  # FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS=1


@pytest.mark.parametrize(
    "url",
    [
        "https://пример.рф/hooks",  # an international domain name
        "https://ⓒⓡⓜ.example.com/in",  # a look-alike spelling of a public name is that name
        "https://８.８.８.８/in",
        "https://[2002:808:808::1]/in",  # 6to4 of a public address
        "https://[64:ff9b::808:808]/in",  # NAT64 of a public address
        "https://[::ffff:8.8.8.8]/in",
        "https://[2606:4700::1111]/in",
    ],
)
def test_public_hosts_in_any_spelling_are_accepted(url: str) -> None:
    from server.services.webhooks import endpoint_url

    assert endpoint_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    ("host", "code"),
    [
        # Not valid IDNA: the URL library would fall back to a laxer encoding and send anyway.
        ("☃.example.com", "bad_host"),
        ("ü_x.example.com", "bad_host"),
        ("exa\uff1ample.com", "invalid"),  # a fullwidth colon: a port in disguise
    ],
)
def test_a_host_that_is_no_valid_domain_name_is_refused(host: str, code: str) -> None:
    from server.errors import Invalid
    from server.services.webhooks import endpoint_url

    with pytest.raises(Invalid) as refused:
        endpoint_url(f"https://{host}/in", allow_private=False)
    assert (refused.value.code, refused.value.field) == (code, "url")


async def test_a_look_alike_loopback_url_in_the_database_is_refused_at_send_time(
    sqlite_server: ServerProcess, receiver: Receiver
) -> None:
    """Registration refuses these URLs; one that got into the database some other way is
    refused when sending, because the check is on the address a socket is about to connect
    to. The test's receiver listens on that address and gets nothing."""
    from server.cli import opened
    from server.store import webhooks as webhook_store

    site = await make_site(sqlite_server)
    assert receiver.server is not None
    port = receiver.server.server_address[1]
    hosts = ["１２７.０.０.１", "127。0。0。1", "127．0．0．1", "𝟏𝟐𝟕.𝟎.𝟎.𝟏", "①②⑦.⓪.⓪.①", "[::ffff:127.0.0.1]"]
    secret = receiver.secret = "whsec_" + base64.b64encode(bytes(32)).decode()
    async with opened(settings_for(sqlite_server)) as state:
        endpoints = [
            await state.writer.run(
                lambda tx, url=f"http://{host}:{port}/hooks/frontdesk": webhook_store.insert_endpoint(
                    tx.conn, site_id=site.id, url=url, secret=secret, description=None, event_types=("message.created",)
                )
            )
            for host in hosts
        ]

    await visitor_says(sqlite_server, site.key, site.allowed_origins[0], ["is anyone on 127.0.0.1?"])

    for endpoint in endpoints:
        rows = await deliveries_when(sqlite_server, endpoint, lambda rows: bool(rows and rows[0]["last_error"]))
        assert rows and rows[0]["last_status_code"] is None, (endpoint.url, rows)
        assert "is a private or local address" in (rows[0]["last_error"] or ""), (endpoint.url, rows)
    assert sum(receiver.requests.values()) == 0, receiver.requests


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
        ((key, "http://１２７.０.０.１:8080/x"), "(url): This URL points at a private"),
        ((key, "http://①⑥⑨.②⑤④.①⑥⑨.②⑤④/latest/meta-data"), "(url): This URL points at a private"),
        ((key, "https://[::ffff:10.0.0.1]/in"), "(url): This URL points at a private"),
        ((key, "https://☃.example.com/in"), "(url): This URL's host name is not a valid domain name"),
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
    await receiver.wait_for(lambda r: r.held == 4, "four requests in flight (lead, conversation, two messages)")
    server.kill()
    # What the dead node was waiting for never reached it; the takeover's attempt is accepted.
    receiver.respond = lambda _id, before: 503 if before == 0 else 204
    receiver.open_gate.set()
    await asyncio.to_thread(server.start)
    await metric_becomes(server, BACKLOG, 4)  # still leased by the dead process

    await receiver.wait_for(lambda r: len(r.deliveries) == 4, "all four after the takeover")
    assert all(count == 1 for count in receiver.accepted.values()), receiver.accepted
    assert all(count == 2 for count in receiver.requests.values()), receiver.requests  # same id again
    assert scrape_metrics(server)['frontdesk_worker_lease_takeovers_total{worker="webhooks"}'] == 4
    rows = await deliveries_when(server, endpoint, lambda rows: all(r["status"] == "done" for r in rows))
    assert [(r["status"], r["claims"]) for r in rows] == [("done", 2)] * 4
    await metric_becomes(server, BACKLOG, 0)
