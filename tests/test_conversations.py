"""Conversation actions over the operator socket (services/conversations.py): close,
reopen (by an operator, or by the visitor writing again), assign and transfer with a note,
private notes. Each is an event every console gets; none ever reaches the visitor."""

from __future__ import annotations

from typing import Any

from tests.clients import FrameClient, connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site
from tests.servers import ServerProcess


async def _act(console: FrameClient, frame: dict[str, Any]) -> dict[str, Any]:
    """Send an action; its "done" or "error" (by id)."""
    frame = {"id": new_id(), **frame}
    await console.send(frame)
    return await console.recv_until(lambda f: f.get("id") == frame["id"] and f["type"] in ("done", "error"))


async def test_actions_are_events_for_operators_and_never_reach_the_visitor(server: ServerProcess) -> None:
    site = await make_site(server)
    anna = await make_operator(server, name="Anna")
    boris = await make_operator(server, name="Boris")
    origin = site.allowed_origins[0]
    http_a = await console_login(server, anna.email, PASSWORD)
    http_b = await console_login(server, boris.email, PASSWORD)
    console_a = await connect_operator(server, http_a)
    console_b = await connect_operator(server, http_b)
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    await visitor.send({"type": "message.send", "id": new_id(), "body": "Hello"})
    created = await console_a.recv_until(lambda f: f["type"] == "conversation.created")
    cid = created["conversation"]["id"]
    assert created["conversation"]["assignee"] is None and created["conversation"]["status"] == "open"
    await visitor.recv_until(lambda f: f["type"] == "message.created")

    assert (await _act(console_a, {"type": "conversation.assign", "conversation_id": cid, "operator_id": anna.id}))["type"] == "done"
    assigned = await console_b.recv_until(lambda f: f["type"] == "conversation.assigned")
    assert assigned["conversation"]["assignee"] == {"id": anna.id, "name": "Anna"}
    assert assigned["entry"]["kind"] == "assigned" and assigned["entry"]["actor"]["name"] == "Anna"

    secret = "<img src=x onerror=alert(1)> VIP, owes us 300 000 ₸"
    done = await _act(console_a, {"type": "conversation.assign", "conversation_id": cid, "operator_id": boris.id,
                                  "note": secret})
    assert done["type"] == "done"
    moved = await console_b.recv_until(lambda f: f["type"] == "conversation.assigned")
    assert moved["entry"]["kind"] == "transferred" and moved["entry"]["target"] == {"id": boris.id, "name": "Boris"}
    assert moved["entry"]["body"] == secret

    note_id = new_id()
    for _ in range(2):  # sent twice, stored once
        assert (await _act(console_b, {"type": "note.create", "id": note_id, "conversation_id": cid, "body": secret}))["type"] == "done"
    note = await console_a.recv_until(lambda f: f["type"] == "note.created")
    assert note["entry"]["body"] == secret and note["entry"]["client_id"] == note_id

    assert (await _act(console_b, {"type": "conversation.close", "conversation_id": cid}))["type"] == "done"
    closed = await console_a.recv_until(lambda f: f["type"] == "conversation.closed")
    assert closed["conversation"]["status"] == "closed" and closed["conversation"]["closed_at"]

    # The visitor writes again: the same conversation reopens (one thread for the visitor).
    await visitor.send({"type": "message.send", "id": new_id(), "body": "One more question"})
    reopened = await console_a.recv_until(lambda f: f["type"] == "conversation.reopened")
    assert reopened["conversation"]["id"] == cid and reopened["conversation"]["status"] == "open"
    assert reopened["entry"]["actor"]["kind"] == "visitor"
    assert reopened["conversation"]["assignee"]["id"] == boris.id  # the same operator picks it up
    message = await console_a.recv_until(lambda f: f["type"] == "message.created")
    assert message["conversation_id"] == cid and message["message"]["seq"] == 2
    await visitor.recv_until(lambda f: f["type"] == "message.created" and f["message"]["seq"] == 2)

    # What the console loads: messages and entries, in order.
    loaded = (await http_a.get(f"/api/console/v1/conversations/{cid}/messages")).json()
    assert "entries" in loaded, loaded
    assert [e["kind"] for e in loaded["entries"]] == ["assigned", "transferred", "note", "closed", "reopened"]
    assert [e["after_seq"] for e in loaded["entries"]] == [1, 1, 1, 1, 1]

    # Nothing of it reached the visitor: not live, not in a replay from the start.
    await visitor.send({"type": "ping"})
    await visitor.recv_until(lambda f: f["type"] == "pong")
    again, _ = await connect_visitor(server, site.key, origin, session["token"], last_seq=0)
    await again.recv_until(lambda f: f.get("message", {}).get("seq") == 2)
    for frame in visitor.seen + again.seen:
        assert frame["type"] in ("ack", "message.created", "pong", "presence", "conversation.read"), frame
        assert "VIP" not in str(frame)

    for client in (visitor, again, console_a, console_b):
        await client.close()
    await http_a.aclose()
    await http_b.aclose()


async def test_bad_actions_get_errors_naming_the_field(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    operator = await make_operator(sqlite_server)
    origin = site.allowed_origins[0]
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    console = await connect_operator(sqlite_server, http)
    session = await start_visitor(sqlite_server, site.key, origin)
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, session["token"])
    await visitor.send({"type": "message.send", "id": new_id(), "body": "Hi"})
    cid = (await console.recv_until(lambda f: f["type"] == "conversation.created"))["conversation"]["id"]

    cases = [
        ({"type": "conversation.close", "conversation_id": "nope"}, "not_found", "conversation_id"),
        ({"type": "conversation.close", "conversation_id": ["x"]}, "not_found", "conversation_id"),
        ({"type": "conversation.assign", "conversation_id": cid, "operator_id": 999999}, "invalid", "operator_id"),
        ({"type": "conversation.assign", "conversation_id": cid, "operator_id": "1"}, "invalid", "operator_id"),
        ({"type": "conversation.assign", "conversation_id": cid, "operator_id": True}, "invalid", "operator_id"),
        ({"type": "conversation.assign", "conversation_id": cid, "operator_id": None, "note": "x" * 5001}, "too_large", "note"),
        ({"type": "note.create", "conversation_id": cid, "body": "   "}, "invalid", "body"),
        ({"type": "note.create", "conversation_id": cid, "body": 5}, "invalid", "body"),
    ]
    for frame, code, field in cases:
        error = await _act(console, frame)
        assert (error["type"], error["code"], error.get("field")) == ("error", code, field), (frame, error)
        assert error["message"]
    # A note without a usable id is refused too (a re-send must not double it).
    bad_id = {"type": "note.create", "id": "x", "conversation_id": cid, "body": "note"}
    await console.send(bad_id)
    error = await console.recv_until(lambda f: f["type"] == "error")
    assert error["field"] == "id"
    # Closing twice is harmless: one event.
    for _ in range(2):
        assert (await _act(console, {"type": "conversation.close", "conversation_id": cid}))["type"] == "done"
    await console.send({"type": "ping"})
    await console.recv_until(lambda f: f["type"] == "pong")
    assert [f["type"] for f in console.seen].count("conversation.closed") == 1
    await visitor.close()
    await console.close()
    await http.aclose()
