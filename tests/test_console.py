"""The operator side on a real server: sign-in rules, the console API and socket."""

from __future__ import annotations

import re

import httpx
import pytest
import websockets

from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_login_sets_a_safe_session_cookie(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        token = await _csrf(client)
        response = await client.post(
            "/console/login", data={"email": operator.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303 and response.headers["location"] == "/console/"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("fd_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        inbox = await client.get("/console/")
        assert inbox.status_code == 200
        assert "default-src 'self'" in inbox.headers["content-security-policy"]


async def test_wrong_password_shows_an_error_and_no_session(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, headers={"Accept-Language": "ru"}) as client:
        token = await _csrf(client)
        response = await client.post(
            "/console/login", data={"email": operator.email, "password": "wrong password", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "fd_session" not in response.cookies
        assert "Неверн" in response.text  # the Russian catalogue's "wrong email or password"
        assert (await client.get("/console/")).status_code == 303


async def test_login_without_csrf_token_is_refused(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        await _csrf(client)
        response = await client.post("/console/login", data={"email": operator.email, "password": PASSWORD})
        assert response.status_code == 403
        assert "fd_session" not in response.cookies


async def test_login_attempts_are_throttled(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        token = await _csrf(client)
        statuses = []
        for _ in range(6):
            response = await client.post(
                "/console/login", data={"email": operator.email, "password": "guess", "csrf_token": token}
            )
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429]
        # Even the right password is refused until the window passes.
        response = await client.post(
            "/console/login", data={"email": operator.email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 429


async def test_console_api_needs_a_session(sqlite_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as client:
        response = await client.get("/api/console/v1/conversations")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        forged = await client.get("/api/console/v1/conversations", headers={"Cookie": "fd_session=eyJvIjoxfQ.forged.sig"})
        assert forged.status_code == 401


async def test_console_socket_refuses_other_origins_and_strangers(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    with pytest.raises(websockets.InvalidStatus) as cross_site:
        await websockets.connect(
            f"{sqlite_server.ws_url}/ws/console", origin="http://evil.test", additional_headers={"Cookie": cookie}
        )
    assert cross_site.value.response.status_code == 403
    with pytest.raises(websockets.InvalidStatus) as anonymous:
        await websockets.connect(f"{sqlite_server.ws_url}/ws/console", origin=sqlite_server.origin)
    assert anonymous.value.response.status_code == 403
    await http.aclose()


async def test_chat_loop_between_visitor_and_operator(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server, name="Olga")
    origin = site.allowed_origins[0]
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)

    session = await start_visitor(server, site.key, origin)
    assert session["operators_online"] is True
    visitor, welcome = await connect_visitor(server, site.key, origin, session["token"])
    assert welcome["operators_online"] is True

    await visitor.send({"type": "message.send", "id": new_id(), "body": "Do you ship to Almaty?"})
    created = await console.recv_until(lambda f: f["type"] == "conversation.created")
    conversation_id = created["conversation"]["id"]
    message = await console.recv_until(lambda f: f["type"] == "message.created")
    assert message["message"]["body"] == "Do you ship to Almaty?"
    assert message["conversation"]["unread_count"] == 1
    assert message["conversation"]["last_message_preview"] == "Do you ship to Almaty?"
    await visitor.recv_until(lambda f: f["type"] == "ack")  # the visitor's socket now follows it

    await visitor.send({"type": "typing", "typing": True})
    typing = await console.recv_until(lambda f: f["type"] == "typing")
    assert typing == {"type": "typing", "conversation_id": conversation_id, "site_id": site.id, "typing": True}

    await console.send({"type": "conversation.read", "conversation_id": conversation_id})
    read = await console.recv_until(lambda f: f["type"] == "conversation.read")
    assert read["conversation"]["unread_count"] == 0
    assert read["read_seq"] == read["conversation"]["read_seq"] == 1
    # The visitor's read receipt: only the seq, none of the operators' summary.
    seen = await visitor.recv_until(lambda f: f["type"] == "conversation.read")
    assert seen == {"type": "conversation.read", "conversation_id": conversation_id, "read_seq": 1}

    await console.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    assert (await visitor.recv_until(lambda f: f["type"] == "typing"))["typing"] is True

    reply_id = new_id()
    await console.send({"type": "message.send", "id": reply_id, "conversation_id": conversation_id, "body": "Yes, in 3 days."})
    ack = await console.recv_until(lambda f: f["type"] == "ack")
    assert ack["id"] == reply_id and ack["seq"] == 2
    reply = await visitor.recv_until(lambda f: f["type"] == "message.created" and f["message"]["seq"] == 2)
    assert reply["message"]["body"] == "Yes, in 3 days."
    assert reply["message"]["author"] == {"kind": "operator", "name": "Olga"}
    assert "conversation" not in reply and "event_id" not in reply  # visitors get no operator-side data

    # The console API agrees with what the socket said.
    listed = (await http.get("/api/console/v1/conversations")).json()
    mine = next(c for c in listed["conversations"] if c["id"] == conversation_id)
    assert mine["last_seq"] == 2 and mine["unread_count"] == 0
    messages = (await http.get(f"/api/console/v1/conversations/{conversation_id}/messages")).json()["messages"]
    assert [m["body"] for m in messages] == ["Do you ship to Almaty?", "Yes, in 3 days."]

    # Operator goes: the visitor sees presence change.
    await console.close()
    presence = await visitor.recv_until(lambda f: f["type"] == "presence")
    assert presence["operators_online"] is False
    await visitor.close()
    await http.aclose()


async def test_console_resumes_after_its_last_event(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server)
    origin = site.allowed_origins[0]
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    await visitor.send({"type": "message.send", "id": new_id(), "body": "first"})
    first = await console.recv_until(lambda f: f["type"] == "message.created" and f["message"]["body"] == "first")
    await console.close()

    for body in ("second", "third"):  # sent while the console is away
        await visitor.send({"type": "message.send", "id": new_id(), "body": body})
        await visitor.recv_until(lambda f: f["type"] == "ack")

    console = await connect_operator(server, http, after_event=first["event_id"])
    bodies = []
    while len(bodies) < 2:
        frame = await console.recv()
        assert frame["event_id"] > first["event_id"]
        if frame["type"] == "message.created" and frame["conversation_id"] == first["conversation_id"]:
            bodies.append(frame["message"]["body"])
    assert bodies == ["second", "third"]
    await console.close()
    await visitor.close()
    await http.aclose()


async def test_reply_to_unknown_conversation_is_a_clear_error(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    console = await connect_operator(sqlite_server, http)
    await console.send({"type": "message.send", "id": new_id(), "conversation_id": "nope", "body": "hello?"})
    error = await console.recv_until(lambda f: f["type"] == "error")
    assert error["code"] == "not_found"
    await console.close()
    await http.aclose()


async def test_each_conversation_is_listed_once_with_its_own_visitor(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server)
    origin = site.allowed_origins[0]
    names = ["Maria", "Aigerim", "Taras"]
    for name in names:
        session = await start_visitor(server, site.key, origin)
        visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
        await visitor.send({"type": "visitor.identify", "id": new_id(), "name": name})
        await visitor.recv_until(lambda f: f["type"] == "identified")
        await visitor.send({"type": "message.send", "id": new_id(), "body": f"I am {name}"})
        await visitor.recv_until(lambda f: f["type"] == "ack" and "seq" in f)
        await visitor.close()
    http = await console_login(server, operator.email, PASSWORD)
    listed = [c for c in (await http.get("/api/console/v1/conversations")).json()["conversations"] if c["site"]["id"] == site.id]
    assert sorted((c["visitor"]["name"], c["last_message_preview"]) for c in listed) == sorted(
        (n, f"I am {n}") for n in names
    )
    await http.aclose()


async def test_console_gets_phones_in_international_format_and_e164(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    operator = await make_operator(sqlite_server)
    origin = site.allowed_origins[0]
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    console = await connect_operator(sqlite_server, http)
    session = await start_visitor(sqlite_server, site.key, origin)
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, session["token"])
    await visitor.send({"type": "message.send", "id": new_id(), "body": "call me"})
    created = await console.recv_until(lambda f: f["type"] == "conversation.created")
    assert created["conversation"]["visitor"]["phone_display"] is None

    await visitor.send({"type": "visitor.identify", "id": new_id(), "phone": "+7 (701) 123-45-67"})
    updated = await console.recv_until(lambda f: f["type"] == "conversation.updated")
    shown = {"phone": "+77011234567", "phone_display": "+7 701 123 45 67"}
    assert {k: updated["conversation"]["visitor"][k] for k in shown} == shown  # live
    listed = (await http.get("/api/console/v1/conversations")).json()["conversations"]
    mine = next(c for c in listed if c["id"] == created["conversation"]["id"])
    assert {k: mine["visitor"][k] for k in shown} == shown  # and when the console loads
    await visitor.close()
    await console.close()
    await http.aclose()
