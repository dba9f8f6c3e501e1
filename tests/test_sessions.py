"""Console sessions end on the server: logout, a new password, a new role or deactivation
refuse the old cookie on HTTP and on the socket, and close the sockets already open."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from typing import Iterator

import httpx
import pytest
import websockets

from tests.clients import FrameClient, closed_for_ended_session, connect_operator, console_login, log_out
from tests.conftest import Backend, start_server
from tests.factories import PASSWORD, make_operator
from tests.servers import ServerProcess, frontdesk


def cookie_header(http: httpx.AsyncClient) -> str:
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


async def console_is_refused(server: ServerProcess, cookie: str) -> None:
    """The cookie reads nothing over HTTP and opens no console socket."""
    async with httpx.AsyncClient(base_url=server.url, headers={"Cookie": cookie}) as stranger:
        api = await stranger.get("/api/console/v1/conversations")
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"
        assert (await stranger.get("/console/")).status_code == 303  # back to the login page
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{server.ws_url}/ws/console", origin=server.origin, additional_headers={"Cookie": cookie})
    assert refused.value.response.status_code == 403


async def still_open(console: FrameClient) -> None:
    await console.send({"type": "ping"})
    assert (await console.recv_until(lambda f: f["type"] == "pong")) == {"type": "pong"}


async def test_a_logged_out_cookie_is_refused_on_http_and_websocket(server: ServerProcess) -> None:
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    old_cookie = cookie_header(http)
    assert (await http.get("/api/console/v1/conversations")).status_code == 200
    await log_out(http)
    await console_is_refused(server, old_cookie)
    await http.aclose()


async def test_logout_closes_that_sessions_open_console_and_no_other(server: ServerProcess) -> None:
    operator = await make_operator(server)
    laptop = await console_login(server, operator.email, PASSWORD)
    phone = await console_login(server, operator.email, PASSWORD)
    laptop_console = await connect_operator(server, laptop)
    laptop_tab_2 = await connect_operator(server, laptop)
    phone_console = await connect_operator(server, phone)

    await log_out(laptop)  # in one tab of the laptop
    await closed_for_ended_session(laptop_console)
    await closed_for_ended_session(laptop_tab_2)
    await still_open(phone_console)  # the phone's session is another one
    assert (await phone.get("/api/console/v1/conversations")).status_code == 200
    await phone_console.close()
    await laptop.aclose()
    await phone.aclose()


# ---- changes made by an admin with the CLI ------------------------------------------


@pytest.fixture(scope="module")
def checked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A single node without Redis whose consoles check their session every half second:
    the CLI's changes cannot reach it by the hub, only through the database."""
    backend = Backend("sqlite", tmp_path_factory.mktemp("sessions"))
    proc = start_server(backend, FRONTDESK_SESSION_CHECK_SECONDS="0.5")
    yield proc
    proc.stop()
    backend.close()


async def test_password_change_ends_every_session_and_closes_consoles(checked_server: ServerProcess) -> None:
    operator = await make_operator(checked_server)
    http = await console_login(checked_server, operator.email, PASSWORD)
    console = await connect_operator(checked_server, http)
    old_cookie = cookie_header(http)

    done = frontdesk(checked_server, "set-password", operator.email, "--password", "a brand new secret")
    assert done.returncode == 0, done.stderr
    assert f"operator {operator.email}: password set" in done.stdout

    await closed_for_ended_session(console)
    await console_is_refused(checked_server, old_cookie)
    fresh = await console_login(checked_server, operator.email, "a brand new secret")
    fresh_console = await connect_operator(checked_server, fresh)
    await still_open(fresh_console)
    await fresh_console.close()
    await fresh.aclose()
    await http.aclose()


async def test_setting_the_same_password_again_keeps_sessions(checked_server: ServerProcess) -> None:
    """What a demo restart with the same --operator-password does: nobody is logged out."""
    operator = await make_operator(checked_server)
    http = await console_login(checked_server, operator.email, PASSWORD)
    console = await connect_operator(checked_server, http)
    assert frontdesk(checked_server, "set-password", operator.email, "--password", PASSWORD).returncode == 0
    await asyncio.sleep(1.5)  # three session checks
    await still_open(console)
    assert (await http.get("/api/console/v1/conversations")).status_code == 200
    await console.close()
    await http.aclose()


async def test_role_change_and_deactivation_end_sessions(checked_server: ServerProcess) -> None:
    unknown = frontdesk(checked_server, "set-role", "nobody@example.com", "agent")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "frontdesk: error (email): No operator has this email."

    operator = await make_operator(checked_server)
    http = await console_login(checked_server, operator.email, PASSWORD)
    console = await connect_operator(checked_server, http)
    done = frontdesk(checked_server, "set-role", operator.email, "agent")
    assert done.returncode == 0 and "role agent" in done.stdout, done.stderr
    await closed_for_ended_session(console)
    await console_is_refused(checked_server, cookie_header(http))
    await http.aclose()

    http = await console_login(checked_server, operator.email, PASSWORD)
    console = await connect_operator(checked_server, http)
    assert frontdesk(checked_server, "deactivate-operator", operator.email).returncode == 0
    await closed_for_ended_session(console)
    await console_is_refused(checked_server, cookie_header(http))
    await http.aclose()

    # A deactivated operator cannot log in, and is told why once the password is right.
    async with httpx.AsyncClient(base_url=checked_server.url, timeout=30) as client:
        page = await client.get("/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        refused = await client.post(
            "/console/login", data={"email": operator.email, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert refused.status_code == 401 and "deactivated" in refused.text
        assert "fd_session" not in refused.cookies

    assert frontdesk(checked_server, "activate-operator", operator.email).returncode == 0
    again = await console_login(checked_server, operator.email, PASSWORD)
    assert (await again.get("/api/console/v1/conversations")).status_code == 200
    await again.aclose()


async def test_end_sessions_signs_an_operator_out_everywhere(checked_server: ServerProcess) -> None:
    operator = await make_operator(checked_server)
    laptop = await console_login(checked_server, operator.email, PASSWORD)
    phone = await console_login(checked_server, operator.email, PASSWORD)
    done = frontdesk(checked_server, "end-sessions", operator.email)
    assert done.returncode == 0 and "2 session(s) ended" in done.stdout, done.stderr
    for client in (laptop, phone):
        await console_is_refused(checked_server, cookie_header(client))
        await client.aclose()


def test_a_password_is_needed_without_a_terminal(checked_server: ServerProcess) -> None:
    """`frontdesk create-operator EMAIL < /dev/null`: one clear line, exit code 2, nothing created."""
    env_without = {k: v for k, v in os.environ.items() if k != "FRONTDESK_OPERATOR_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "create-operator", "newcomer@example.com"],
        env={**env_without, **checked_server.env}, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no password given" in lines[0] and "--password" in lines[0], lines[0]
    # Nothing was made: the email is still free.
    created = frontdesk(checked_server, "create-operator", "newcomer@example.com", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
