"""Console login throttling on a real server: concurrent guesses are counted before they
are checked, password checks do not stall chat, the operator is not locked out by
someone else's guesses, and forwarded addresses count only from trusted proxies.

Each test speaks from its own loopback address (127.0.0.x: all of 127/8 reaches the
server on Linux), so their per-address counts do not meet.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from typing import Iterator

import httpx
import pytest

from server.config import Settings
from server.web.addresses import forwarded_client
from tests.clients import connect_visitor, new_id, start_visitor
from tests.conftest import Backend, start_server
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess

PROXY = "127.0.0.2"  # the only trusted proxy of this file's server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    backend = Backend("sqlite", tmp_path_factory.mktemp("throttle"))
    proc = start_server(backend, FRONTDESK_TRUSTED_PROXIES=PROXY, FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE="5")
    yield proc
    proc.stop()
    backend.close()


def client_from(server: ServerProcess, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address``."""
    return httpx.AsyncClient(
        base_url=server.url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=60
    )


async def login_statuses(
    client: httpx.AsyncClient, attempts: list[tuple[str, str]], *, forwarded_for: str | None = None
) -> list[int]:
    """POST the login form for each (email, password) at once; the answers' status codes."""
    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}

    async def attempt(email: str, password: str) -> int:
        response = await client.post(
            "/console/login", data={"email": email, "password": password, "csrf_token": token.group(1)},
            headers=headers,
        )
        return response.status_code

    return list(await asyncio.gather(*(attempt(e, p) for e, p in attempts)))


async def test_concurrent_guesses_for_one_email_are_counted_before_they_are_checked(guarded: ServerProcess) -> None:
    operator = await make_operator(guarded)
    async with client_from(guarded, "127.0.0.3") as attacker:
        statuses = await login_statuses(attacker, [(operator.email, f"guess {i}") for i in range(30)])
    assert statuses.count(401) == 5, statuses  # FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE
    assert statuses.count(429) == 25, statuses


async def test_a_login_burst_from_one_address_is_capped_and_chat_goes_on(guarded: ServerProcess) -> None:
    site = await make_site(guarded)
    origin = site.allowed_origins[0]
    session = await start_visitor(guarded, site.key, origin)
    visitor, _ = await connect_visitor(guarded, site.key, origin, session["token"])
    acks: list[float] = []
    health: list[float] = []
    burst_over = asyncio.Event()

    async def chat() -> None:
        while not burst_over.is_set():
            sent = time.perf_counter()
            await visitor.send({"type": "message.send", "id": new_id(), "body": "still there?"})
            await visitor.recv_until(lambda f: f["type"] == "ack")
            acks.append(time.perf_counter() - sent)
            async with httpx.AsyncClient(timeout=60) as probe:
                sent = time.perf_counter()
                assert (await probe.get(guarded.url + "/healthz")).status_code == 200
                health.append(time.perf_counter() - sent)
            await asyncio.sleep(0.02)

    async def burst() -> list[int]:
        try:
            async with client_from(guarded, "127.0.0.4") as attacker:
                return await login_statuses(attacker, [(f"target{i}@example.com", "guess") for i in range(40)])
        finally:
            burst_over.set()

    chatting = asyncio.create_task(chat())
    statuses = await burst()
    await chatting
    await visitor.close()
    assert acks, "the visitor got no ack during the burst"
    print(
        f"\nduring 40 concurrent logins: visitor ack median {statistics.median(acks) * 1000:.1f} ms, "
        f"max {max(acks) * 1000:.1f} ms ({len(acks)} acks); /healthz max {max(health) * 1000:.1f} ms"
    )
    assert statuses.count(401) == 20, statuses  # 4 x FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE from one address
    assert statuses.count(429) == 20, statuses


async def test_someone_elses_guesses_do_not_lock_the_operator_out(guarded: ServerProcess) -> None:
    operator = await make_operator(guarded)
    async with client_from(guarded, "127.0.0.5") as attacker:
        statuses = [*await login_statuses(attacker, [(operator.email, "guess")] * 5)]
        statuses += await login_statuses(attacker, [(operator.email, PASSWORD)])
    assert statuses == [401] * 5 + [429]  # the attacker's address is slowed, even with the right password
    async with client_from(guarded, "127.0.0.6") as operator_browser:
        assert await login_statuses(operator_browser, [(operator.email, PASSWORD)]) == [303]


async def test_a_forged_forwarded_for_from_a_direct_client_changes_nothing(guarded: ServerProcess) -> None:
    """127.0.0.1 is not a trusted proxy here (uvicorn's own default would trust it)."""
    guesses = [(f"someone{i}@example.com", "guess") for i in range(20)]  # 4 x the limit: the per-address cap
    async with client_from(guarded, "127.0.0.1") as direct:
        first = await login_statuses(direct, guesses, forwarded_for="203.0.113.1")
        again = await login_statuses(direct, [("someone-else@example.com", "guess")], forwarded_for="203.0.113.2")
    assert first == [401] * 20
    assert again == [429]  # still the same client: its address, not the header's


async def test_a_trusted_proxy_names_each_client(guarded: ServerProcess) -> None:
    operator = await make_operator(guarded)
    async with client_from(guarded, PROXY) as proxy:
        alice = await login_statuses(proxy, [(operator.email, "guess")] * 6, forwarded_for="203.0.113.9")
        bob = await login_statuses(proxy, [(operator.email, "guess")], forwarded_for="203.0.113.10")
        # Alice prepends her own header; the proxy appends her real address: the right-most
        # address that is not a trusted proxy is hers, and she is still throttled.
        alice_forging = await login_statuses(proxy, [(operator.email, "guess")], forwarded_for="203.0.113.11, 203.0.113.9")
        real_login = await login_statuses(proxy, [(operator.email, PASSWORD)], forwarded_for="203.0.113.12")
    assert sorted(alice) == [401] * 5 + [429]
    assert bob == [401]  # another client behind the same proxy has its own count
    assert alice_forging == [429]
    assert real_login == [303]


@pytest.mark.parametrize(
    "peer, chain, expected",
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),  # not a proxy of ours: headers ignored
        ("10.0.0.2", [], "10.0.0.2"),  # a trusted proxy that forwarded nothing
        ("10.0.0.2", ["203.0.113.1"], "203.0.113.1"),
        ("10.0.0.2", ["6.6.6.6", "203.0.113.1"], "203.0.113.1"),  # the right-most untrusted wins
        ("10.0.0.2", ["203.0.113.1", "10.0.0.9"], "203.0.113.1"),  # through two proxies of ours
        ("10.0.0.2", ["10.0.0.7", "10.0.0.9"], "10.0.0.7"),  # all ours: the left-most is the client
        ("10.0.0.2", ["203.0.113.1:4711"], "203.0.113.1"),
        ("10.0.0.2", ['"[2001:db8::1]:4711"'], "2001:db8::1"),  # Forwarded's quoted IPv6 form
        ("10.0.0.2", ["6.6.6.6", "unknown"], "10.0.0.2"),  # a hop that is no address: stop at the proxy
        ("::ffff:10.0.0.2", ["203.0.113.1"], "203.0.113.1"),  # an IPv4 proxy seen on a dual-stack socket
    ],
)
def test_forwarded_client(peer: str, chain: list[str], expected: str) -> None:
    trusted = Settings.from_env({}, trusted_proxies="10.0.0.0/8").trusted_proxy_networks
    assert forwarded_client(peer, chain, trusted) == expected


async def test_forwarded_header_counts_like_x_forwarded_for(guarded: ServerProcess) -> None:
    operator = await make_operator(guarded)
    async with client_from(guarded, PROXY) as proxy:
        page = await proxy.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        statuses = []
        for address in ["198.51.100.1"] * 6 + ["198.51.100.2"]:
            response = await proxy.post(
                "/console/login", data={"email": operator.email, "password": "guess", "csrf_token": token.group(1)},
                headers={"Forwarded": f'for="{address}";proto=https'},
            )
            statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429, 401]
