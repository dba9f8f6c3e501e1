"""The visitor websocket on a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import websockets

from tests.clients import connect_visitor, new_id, start_visitor
from tests.factories import make_site
from tests.servers import ServerProcess


async def test_message_is_acked_with_seq_and_echoed(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, welcome = await connect_visitor(server, site.key, origin, session["token"])
    assert welcome["conversation"] is None

    ids = [new_id() for _ in range(3)]
    for i, client_id in enumerate(ids):
        await visitor.send({"type": "message.send", "id": client_id, "body": f"Hello {i}"})
    acks = {}
    while len(acks) < 3:
        frame = await visitor.recv()
        if frame["type"] == "ack":
            acks[frame["id"]] = frame["seq"]
    assert [acks[i] for i in ids] == [1, 2, 3]
    await visitor.close()


async def test_repeated_client_id_creates_nothing(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    client_id = new_id()
    for _ in range(3):
        await visitor.send({"type": "message.send", "id": client_id, "body": "Only once please"})
    acks = [await visitor.recv_until(lambda f: f["type"] == "ack") for _ in range(3)]
    assert {a["seq"] for a in acks} == {1}
    await visitor.close()

    # A fresh connection replays the conversation: one message.
    again, welcome = await connect_visitor(server, site.key, origin, session["token"])
    assert welcome["conversation"]["last_seq"] == 1
    replayed = await again.recv()
    assert replayed["type"] == "message.created" and replayed["message"]["body"] == "Only once please"
    await again.send({"type": "ping"})
    assert (await again.recv())["type"] == "pong"  # nothing else was replayed before the pong
    await again.close()


async def test_reconnect_replays_only_after_last_seq(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    for i in range(5):
        await visitor.send({"type": "message.send", "id": new_id(), "body": f"m{i}"})
        await visitor.recv_until(lambda f: f["type"] == "ack")
    await visitor.close()

    session = await start_visitor(server, site.key, origin, token=session["token"])
    assert session["conversation"]["last_seq"] == 5
    again, _ = await connect_visitor(server, site.key, origin, session["token"], last_seq=3)
    replay = [await again.recv() for _ in range(2)]
    assert [f["message"]["seq"] for f in replay] == [4, 5]
    assert [f["message"]["body"] for f in replay] == ["m3", "m4"]
    await again.close()


async def test_forged_and_foreign_tokens_are_refused(server: ServerProcess) -> None:
    site = await make_site(server)
    other = await make_site(server)
    origin = site.allowed_origins[0]
    mine = await start_visitor(server, site.key, origin)
    theirs = await start_visitor(server, other.key, other.allowed_origins[0])

    for token in [mine["token"][:-3] + "abc", theirs["token"], "", None, 12]:
        async with websockets.connect(f"{server.ws_url}/ws/visitor?site={site.key}", origin=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert frame["type"] == "error" and frame["code"] == "invalid_token", (token, frame)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/api/widget/v1/sites/{site.key}/visitors", json={"token": theirs["token"]},
            headers={"Origin": origin},
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


async def test_a_visitor_never_sees_another_visitors_messages(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    alice = await start_visitor(server, site.key, origin)
    bob = await start_visitor(server, site.key, origin)
    a, _ = await connect_visitor(server, site.key, origin, alice["token"])
    b, _ = await connect_visitor(server, site.key, origin, bob["token"])
    await a.send({"type": "message.send", "id": new_id(), "body": "Alice's secret"})
    await a.recv_until(lambda f: f["type"] == "ack")
    await b.send({"type": "ping"})
    assert (await b.recv())["type"] == "pong"
    await a.close()
    await b.close()
    b2, welcome = await connect_visitor(server, site.key, origin, bob["token"])
    assert welcome["conversation"] is None
    await b2.send({"type": "ping"})
    assert (await b2.recv()) == {"type": "pong"}
    await b2.close()


async def test_wrong_origin_upgrade_is_refused(server: ServerProcess) -> None:
    site = await make_site(server)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{server.ws_url}/ws/visitor?site={site.key}", origin="http://evil.test")
    assert refused.value.response.status_code == 403

    with pytest.raises(websockets.InvalidStatus) as unknown:
        await websockets.connect(f"{server.ws_url}/ws/visitor?site=fd_nope", origin=site.allowed_origins[0])
    assert unknown.value.response.status_code == 403


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("not json", "bad_frame", None),
        ('["a list"]', "bad_frame", None),
        ('{"type": "launch.missiles"}', "bad_frame", "type"),
        ('{"type": "message.send", "id": "short", "body": "hi"}', "invalid", "id"),
        ('{"type": "message.send", "id": "0123456789abcdef", "body": "   "}', "invalid", "body"),
        ('{"type": "message.send", "id": "0123456789abcdef", "body": 42}', "invalid", "body"),
        ('{"type": "message.send", "id": "0123456789abcdef", "body": "' + "x" * 5001 + '"}', "too_large", "body"),
    ],
)
async def test_bad_frames_get_clear_errors_and_harm_nothing(
    sqlite_server: ServerProcess, frame: str, code: str, field: str | None
) -> None:
    server = sqlite_server
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    await visitor.send({"type": "message.send", "id": new_id(), "body": "kept"})
    await visitor.recv_until(lambda f: f["type"] == "ack")
    await visitor.ws.send(frame)
    error = await visitor.recv_until(lambda f: f["type"] == "error")
    assert error["code"] == code
    assert error.get("field") == field
    assert error["message"] and error["message"] != f"error.{code}"
    # The connection still works and the stored conversation is unchanged.
    await visitor.send({"type": "ping"})
    assert (await visitor.recv_until(lambda f: f["type"] == "pong"))
    await visitor.close()
    again, welcome = await connect_visitor(server, site.key, origin, session["token"])
    assert welcome["conversation"]["last_seq"] == 1
    await again.close()


async def test_identify_stores_the_valid_fields_and_names_each_refused_one(server: ServerProcess) -> None:
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    frame_id = new_id()
    await visitor.send(
        {"type": "visitor.identify", "id": frame_id, "name": "Bob", "email": "bob@example.com", "phone": "(555) 123-4567"}
    )
    answer = await visitor.recv_until(lambda f: f.get("id") == frame_id)
    assert answer["type"] == "identified", answer
    assert sorted(answer["accepted"]) == ["email", "name"]
    assert list(answer["refused"]) == ["phone"]
    assert answer["refused"]["phone"]["code"] == "invalid"
    assert "phone" in answer["refused"]["phone"]["message"]

    # A name no store can hold (a lone surrogate) is refused on its own; the socket stays up.
    second = new_id()
    await visitor.send({"type": "visitor.identify", "id": second, "name": "\ud800", "phone": "+7 701 123 45 67"})
    answer = await visitor.recv_until(lambda f: f.get("id") == second)
    assert answer["type"] == "identified", answer
    assert answer["accepted"] == ["phone"] and list(answer["refused"]) == ["name"]
    await visitor.send({"type": "ping"})
    assert await visitor.recv_until(lambda f: f["type"] == "pong")

    # Nothing valid at all: still an answer naming each field, and nothing stored is harmed.
    third = new_id()
    await visitor.send({"type": "visitor.identify", "id": third, "email": "not-an-email", "phone": 12})
    answer = await visitor.recv_until(lambda f: f.get("id") == third)
    assert answer["accepted"] == [] and sorted(answer["refused"]) == ["email", "phone"]
    await visitor.close()

    stored = (await start_visitor(server, site.key, origin, session["token"]))["visitor"]
    assert (stored["name"], stored["email"], stored["phone"]) == ("Bob", "bob@example.com", "+77011234567")


async def test_identify_is_answered_in_the_visitors_language(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    session = await start_visitor(sqlite_server, site.key, origin)
    ws = await websockets.connect(f"{sqlite_server.ws_url}/ws/visitor?site={site.key}&lang=ru", origin=origin)
    await ws.send(json.dumps({"type": "hello", "token": session["token"], "last_seq": 0}))
    frame_id = new_id()
    await ws.send(json.dumps({"type": "visitor.identify", "id": frame_id, "email": "nope"}))
    while (frame := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "identified":
        pass
    assert frame["id"] == frame_id
    assert "почт" in frame["refused"]["email"]["message"], frame
    await ws.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        # RFC 5321 allows 64 octets before the @: 65 ASCII letters, or 33 Cyrillic ones (66 octets).
        ("email", "a" * 65 + "@example.com"),
        ("email", "б" * 33 + "@example.com"),
        ("phone", "12"),
    ],
)
async def test_identify_refuses_a_bad_field_by_name(sqlite_server: ServerProcess, field: str, value: str) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    session = await start_visitor(sqlite_server, site.key, origin)
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, session["token"])
    frame_id = new_id()
    await visitor.send({"type": "visitor.identify", "id": frame_id, field: value})
    answer = await visitor.recv_until(lambda f: f.get("id") == frame_id)
    assert answer["type"] == "identified" and answer["accepted"] == [], answer
    assert list(answer["refused"]) == [field] and answer["refused"][field]["code"] == "invalid", answer
    await visitor.close()
    stored = (await start_visitor(sqlite_server, site.key, origin, session["token"]))["visitor"]
    assert stored[field] is None


async def test_an_email_at_the_length_limits_is_accepted(sqlite_server: ServerProcess) -> None:
    """64 octets before the @ is allowed (RFC 5321); one more is refused (test above)."""
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    session = await start_visitor(sqlite_server, site.key, origin)
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, session["token"])
    for email in ("a" * 64 + "@example.com", "б" * 32 + "@example.com"):
        frame_id = new_id()
        await visitor.send({"type": "visitor.identify", "id": frame_id, "email": email})
        answer = await visitor.recv_until(lambda f: f.get("id") == frame_id)
        assert (answer["type"], answer["accepted"], answer["refused"]) == ("identified", ["email"], {}), (email, answer)
    await visitor.close()


async def test_errors_speak_the_visitors_language(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    session = await start_visitor(sqlite_server, site.key, origin)
    ws = await websockets.connect(
        f"{sqlite_server.ws_url}/ws/visitor?site={site.key}&lang=ru", origin=origin
    )
    await ws.send(json.dumps({"type": "hello", "token": session["token"], "last_seq": 0}))
    await ws.recv()
    await ws.send(json.dumps({"type": "message.send", "id": "0123456789abcdef", "body": ""}))
    error = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert error["field"] == "body"
    assert any("\u0400" <= ch <= "\u04ff" for ch in error["message"]), error["message"]
    await ws.close()


async def test_oversized_frame_closes_the_socket(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    session = await start_visitor(sqlite_server, site.key, origin)
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, session["token"])
    await visitor.ws.send("x" * 70_000)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await visitor.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server allowing a visitor 5 messages a minute."""
    from tests.conftest import Backend, start_server

    server = start_server(Backend("sqlite", tmp_path), FRONTDESK_VISITOR_MESSAGES_PER_MINUTE="5")
    yield server
    server.stop()


async def test_a_flood_is_refused_with_a_clear_error_and_not_stored(strict_server: ServerProcess) -> None:
    server = strict_server
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    for i in range(8):
        await visitor.send({"type": "message.send", "id": f"flood-message-{i:02d}", "body": f"flood {i}"})
    outcomes: dict[str, str] = {}
    while len(outcomes) < 8:
        frame = await visitor.recv()
        if frame["type"] in ("ack", "error"):
            outcomes[frame["id"]] = frame["type"] if frame["type"] == "ack" else frame["code"]
            if frame["type"] == "error":
                assert frame["field"] == "body" and "fast" in frame["message"]
    assert sorted(outcomes.values()) == ["ack"] * 5 + ["rate_limited"] * 3
    await visitor.close()
    again, welcome = await connect_visitor(server, site.key, origin, session["token"])
    assert welcome["conversation"]["last_seq"] == 5  # the refused ones were not stored
    await again.close()
