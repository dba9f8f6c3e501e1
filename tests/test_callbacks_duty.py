"""Who is on duty is per site, on both presence backends: while only an operator limited to
site B has a console open, site A's visitors are not told an operator is online and may not
ask to be called "as soon as possible"; site B's may. With Redis the operator's console is on
one node and the visitors on another."""

from __future__ import annotations

import uuid
from typing import Iterator

import httpx
import pytest

from server.cli import main
from tests.clients import connect_operator, connect_visitor, console_login, start_visitor
from tests.conftest import Backend
from tests.factories import PASSWORD, make_operator
from tests.servers import REDIS_URL, ServerProcess, require_redis
from tests.test_callbacks import book, callback_site, offer
from tests.test_callbacks_assign import pending

NOBODY = {"code": "invalid", "field": "slot", "message": "Nobody is on duty right now: choose a time for the call."}


def _node(env: dict[str, str], backend: Backend, name: str, migrate: bool) -> ServerProcess:
    if migrate:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            assert main(["migrate"]) == 0
    return ServerProcess(env=env, log_path=backend.tmp / f"{name}.log").start()


@pytest.fixture(scope="module", params=["memory", "redis"])
def desks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """(the operators' node, the visitors' node): servers of this module's own, where nobody
    else opens a console. memory: one SQLite server (both the same); redis: two PostgreSQL
    nodes sharing a Redis."""
    tmp = tmp_path_factory.mktemp(f"duty-{request.param}")
    if request.param == "redis":
        require_redis()
    backend = Backend("sqlite" if request.param == "memory" else "postgres", tmp)
    env = backend.env()
    if request.param == "redis":
        env.update(FRONTDESK_REDIS_URL=REDIS_URL, FRONTDESK_REDIS_PREFIX=f"test-{uuid.uuid4().hex[:10]}:")
    nodes = [_node(env, backend, "node0", migrate=True)]
    if request.param == "redis":
        nodes.append(_node(env, backend, "node1", migrate=False))
    try:
        yield nodes[0], nodes[-1]
    finally:
        for node in nodes:
            node.stop()
        backend.close()


async def test_a_site_b_operator_puts_site_b_on_duty_and_not_site_a(desks: tuple[ServerProcess, ServerProcess]) -> None:
    operators_node, visitors_node = desks
    site_a, site_b = await callback_site(operators_node), await callback_site(operators_node)  # open all day
    operator = await make_operator(operators_node, role="agent", site_keys=[site_b.key])
    tokens = {}
    sockets = {}
    for name, site in (("a", site_a), ("b", site_b)):
        session = await start_visitor(visitors_node, site.key, site.allowed_origins[0])
        assert session["operators_online"] is False
        tokens[name] = session["token"]
        sockets[name], welcome = await connect_visitor(visitors_node, site.key, site.allowed_origins[0], tokens[name])
        assert welcome["operators_online"] is False

    http = await console_login(operators_node, operator.email, PASSWORD)
    console = await connect_operator(operators_node, http)  # B's operator on duty
    try:
        came = await sockets["b"].recv_until(lambda f: f["type"] == "presence")
        assert came["operators_online"] is True
        # Site A's panel was told nothing: whatever the server sent it before this pong came first.
        await sockets["a"].send({"type": "ping"})
        await sockets["a"].recv_until(lambda f: f["type"] == "pong")
        assert [f for f in sockets["a"].seen if f["type"] == "presence"] == []

        # A new visitor of each site: A's panel opens offline, B's online.
        for site, online in ((site_a, False), (site_b, True)):
            session = await start_visitor(visitors_node, site.key, site.allowed_origins[0])
            assert session["operators_online"] is online
            fresh, welcome = await connect_visitor(visitors_node, site.key, site.allowed_origins[0], session["token"])
            assert welcome["operators_online"] is online
            await fresh.close()
            async with httpx.AsyncClient(base_url=visitors_node.url, timeout=30) as client:
                config = await client.get(f"/api/widget/v1/sites/{site.key}/config",
                                          headers={"Origin": site.allowed_origins[0]})
                assert config.json()["operators_online"] is online

        async with httpx.AsyncClient(base_url=visitors_node.url, timeout=30) as client:
            # Site A: "as soon as possible" is neither offered nor accepted; nothing is stored.
            assert (await offer(client, site_a))["asap"] is False
            refused = await book(client, site_a, tokens["a"], asap=True, language="en")
            assert refused.status_code == 400
            assert refused.json()["error"] == NOBODY
            assert await pending(client, site_a, tokens["a"]) == []
            # Site B: offered and booked.
            assert (await offer(client, site_b))["asap"] is True
            booked = await book(client, site_b, tokens["b"], asap=True, language="en")
            assert booked.status_code == 201, booked.text
            assert booked.json()["callback"]["asap"] is True
    finally:
        await console.close()
        await http.aclose()
    gone = await sockets["b"].recv_until(lambda f: f["type"] == "presence")
    assert gone["operators_online"] is False
    for socket in sockets.values():
        await socket.close()
