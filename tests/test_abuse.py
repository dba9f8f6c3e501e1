"""Bad input and abuse on the widget API and sockets (issue 14, items 5 and the limits):
each gets its documented JSON error naming the field or the limit, and the connection
stays where the protocol says so."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Iterator
from unittest import mock

import httpx
import pytest
import websockets

from server.security import Signer
from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.conftest import served
from tests.factories import PASSWORD, make_operator, make_site, seed_conversation, settings_for
from tests.servers import ServerProcess, frontdesk

LONE = "\\ud800"  # JSON text for a lone surrogate: valid JSON, not text
DEEP = "[" * 20_000 + "]" * 20_000


async def _post_visitor(server: ServerProcess, site_key: str, origin: str, body: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{server.url}/api/widget/v1/sites/{site_key}/visitors", content=body.encode(),
            headers={"Origin": origin, "Content-Type": "application/json"},
        )


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ('{"token": null, "page": {"url": "https://shop.test/' + LONE + '"}}', 400, "invalid", "page.url"),
        ('{"token": "' + LONE + '"}', 400, "invalid", "token"),
        ('{"token": null, "language": "' + LONE + '"}', 400, "invalid", "language"),
        ('{"token": null, "page": ' + DEEP + "}", 400, "bad_frame", None),
        ('{"token": null, "page": ' + "[" * 100 + "]" * 100 + "}", 400, "bad_frame", None),
    ],
)
async def test_unencodable_or_deep_json_gets_a_json_error(
    sqlite_server: ServerProcess, body: str, status: int, code: str, field: str | None
) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    response = await _post_visitor(sqlite_server, site.key, origin, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"] and not error["message"].startswith("error.")
    # The server is fine and the widget's next call works.
    assert (await _post_visitor(sqlite_server, site.key, origin, '{"token": null}')).status_code == 200


async def test_api_routing_errors_are_json(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with httpx.AsyncClient(base_url=sqlite_server.url, headers={"Accept-Language": "ru"}) as client:
        wrong_method = await client.get(f"/api/widget/v1/sites/{site.key}/visitors")
        missing = await client.get("/api/widget/v1/nothing-here")
        console_wrong_method = await client.delete("/api/console/v1/conversations")
    for response, status, code in [
        (wrong_method, 405, "method_not_allowed"), (missing, 404, "not_found"),
        (console_wrong_method, 405, "method_not_allowed"),
    ]:
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == code and any("\u0400" <= ch <= "\u04ff" for ch in error["message"])
    assert wrong_method.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("frame", "code", "field", "echoes_id"),
    [
        # (a name that is not text in visitor.identify is refused field by field, in its
        # `identified` answer: test_visitor_socket's identify tests)
        ('{"type": "visitor.identify", "id": "0123456789' + LONE + '", "name": "Olga"}', "invalid", "id", False),
        ('{"type": "message.send", "id": "0123456789abcdef", "body": "hi ' + LONE + '"}', "invalid", "body", True),
        ('{"type": "message.send", "id": "0123456789' + LONE + '", "body": "hi"}', "invalid", "id", False),
        ('{"type": "message.send", "id": "0123456789abcdef", "body": ' + DEEP + "}", "bad_frame", None, False),
        ('{"type": "typing", "typing": ' + "{" * 0 + '"' + LONE + '"}', "invalid", "typing", False),
    ],
)
async def test_unencodable_or_deep_frames_get_an_error_and_keep_the_socket(
    sqlite_server: ServerProcess, frame: str, code: str, field: str | None, echoes_id: bool
) -> None:
    server = sqlite_server
    site = await make_site(server)
    origin = site.allowed_origins[0]
    session = await start_visitor(server, site.key, origin)
    visitor, _ = await connect_visitor(server, site.key, origin, session["token"])
    await visitor.ws.send(frame)
    error = await visitor.recv_until(lambda f: f["type"] == "error")
    assert (error["code"], error.get("field")) == (code, field), error
    # The id lets the widget stop re-sending that message (it would retry forever).
    assert error.get("id") == ("0123456789abcdef" if echoes_id else None)
    await visitor.send({"type": "message.send", "id": new_id(), "body": "Still works"})
    ack = await visitor.recv_until(lambda f: f["type"] == "ack")
    assert ack["seq"] == 1  # the refused frame stored nothing
    await visitor.close()


async def test_a_hello_with_an_unencodable_token_is_refused_as_invalid(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    async with websockets.connect(f"{sqlite_server.ws_url}/ws/visitor?site={site.key}", origin=site.allowed_origins[0]) as ws:
        await ws.send('{"type": "hello", "token": "' + LONE + '", "last_seq": 0}')
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (error["code"], error["field"]) == ("invalid", "token")
        await ws.wait_closed()
        assert ws.close_code == 4400


# --- limits --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with small per-address and per-visitor limits."""
    with served(
        "sqlite", tmp_path_factory.mktemp("strict-limits"),
        FRONTDESK_NEW_VISITORS_PER_IP_PER_MINUTE="3", FRONTDESK_SOCKETS_PER_IP="3",
        FRONTDESK_VISITOR_TYPING_PER_MINUTE="5", FRONTDESK_VISITOR_IDENTIFIES_PER_MINUTE="3",
        FRONTDESK_VISITOR_FRAMES_PER_MINUTE="5", FRONTDESK_OPERATOR_MESSAGES_PER_MINUTE="5",
        FRONTDESK_OPERATOR_TYPING_PER_MINUTE="5", FRONTDESK_OPERATOR_FRAMES_PER_MINUTE="5",
        FRONTDESK_OPERATOR_ACTIONS_PER_MINUTE="5",
    ) as server:
        yield server


async def _seeded_visitor(server: ServerProcess) -> tuple[str, str, str]:
    """(site key, origin, token) of a visitor made without the HTTP call (that is limited)."""
    site = await make_site(server)
    token, _ = await seed_conversation(settings_for(server), site.key, 1)
    return site.key, site.allowed_origins[0], token


async def test_typing_floods_are_refused_and_do_not_reach_consoles(strict: ServerProcess) -> None:
    site_key, origin, token = await _seeded_visitor(strict)
    operator = await make_operator(strict)
    http = await console_login(strict, operator.email, PASSWORD)
    console = await connect_operator(strict, http)
    visitor, _ = await connect_visitor(strict, site_key, origin, token)
    await visitor.recv_until(lambda f: f["type"] == "message.created")  # the replayed message
    for i in range(200):
        await visitor.send({"type": "typing", "typing": i % 2 == 0})
    errors = [await visitor.recv_until(lambda f: f["type"] == "error") for _ in range(195)]
    assert {(e["code"], e["field"], e["limit"]) for e in errors} == {("rate_limited", "type", "visitor_typing")}
    assert all(e["retry_after"] >= 1 for e in errors)
    await console.send({"type": "ping"})
    await console.recv_until(lambda f: f["type"] == "pong")
    assert sum(f["type"] == "typing" for f in console.seen) == 5  # not 200
    await visitor.close()
    await console.close()
    await http.aclose()


async def test_identify_and_ping_floods_are_refused_with_their_limit(strict: ServerProcess) -> None:
    site_key, origin, token = await _seeded_visitor(strict)
    visitor, _ = await connect_visitor(strict, site_key, origin, token)
    for i in range(6):
        await visitor.send({"type": "visitor.identify", "id": f"identify-{i:04d}", "name": f"Name {i}"})
    outcomes = {}
    while len(outcomes) < 6:
        frame = await visitor.recv()
        if frame["type"] in ("identified", "error"):
            outcomes[frame["id"]] = frame.get("limit", frame["type"])
    assert sorted(outcomes.values()) == ["identified"] * 3 + ["visitor_identifies"] * 3
    for _ in range(8):
        await visitor.send({"type": "ping"})
    answers = [await visitor.recv() for _ in range(8)]
    assert [a["type"] for a in answers].count("pong") == 5
    assert {a.get("limit") for a in answers if a["type"] == "error"} == {"visitor_frames"}
    await visitor.close()


async def test_every_console_frame_type_has_a_per_operator_limit(strict: ServerProcess) -> None:
    """A raw console socket sends a burst of each frame type: five of each pass, the rest
    get a rate_limited error naming the limit (and the frame's id), and nothing more is stored."""
    site = await make_site(strict)
    token, conversation_id = await seed_conversation(settings_for(strict), site.key, 1)
    operator = await make_operator(strict)
    http = await console_login(strict, operator.email, PASSWORD)
    console = await connect_operator(strict, http)
    visitor, _ = await connect_visitor(strict, site.key, site.allowed_origins[0], token)
    too_fast = "You are doing this too fast (at most 5 a minute). Wait a moment and try again."

    async def burst(frames: list[dict[str, object] | str], settled: str) -> list[dict[str, object]]:
        """Sends them all at once; the answers (frames of type ``settled`` or errors), one per frame."""
        for frame in frames:
            await console.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        return [await console.recv_until(lambda f: f["type"] in (settled, "error")) for _ in frames]

    def refused(answers: list[dict[str, object]], limit: str) -> list[dict[str, object]]:
        errors = [a for a in answers if a["type"] == "error"]
        assert {(e["code"], e["field"], e["limit"], e["message"]) for e in errors} == {
            ("rate_limited", "type", limit, too_fast)}, errors
        assert all(isinstance(e["retry_after"], int) and e["retry_after"] >= 1 for e in errors)
        return errors

    typing = [{"type": "typing", "conversation_id": conversation_id, "typing": i % 2 == 0} for i in range(8)]
    for frame in typing:
        await console.send(frame)
    errors = [await console.recv_until(lambda f: f["type"] == "error") for _ in range(3)]
    refused(errors, "operator_typing")
    sends = [{"type": "message.send", "id": f"msg-{i:04d}", "conversation_id": conversation_id, "body": f"Hello {i}"}
             for i in range(8)]
    answers = await burst(sends, "ack")
    assert [a["type"] for a in answers].count("ack") == 5
    assert sorted(e["id"] for e in refused(answers, "operator_messages")) == ["msg-0005", "msg-0006", "msg-0007"]
    notes = [{"type": "note.create", "id": f"note-{i:04d}", "conversation_id": conversation_id, "body": f"Note {i}"}
             for i in range(8)]
    answers = await burst(notes, "done")
    assert [a["type"] for a in answers].count("done") == 5 and len(refused(answers, "operator_actions")) == 3
    answers = await burst([{"type": "ping"}] * 5, "pong")
    assert [a["type"] for a in answers] == ["pong"] * 5
    # The rest share one budget, now spent: reads, pings, unknown and malformed frames.
    others: list[dict[str, object] | str] = [
        {"type": "conversation.read", "conversation_id": conversation_id}, {"type": "ping"},
        {"type": "no.such.frame"}, "{not json",
    ]
    refused(await burst(others, "pong"), "operator_frames")

    # Nothing more was stored than what passed: 1 seeded + 5 messages; 5 notes.
    await visitor.recv_until(lambda f: f["type"] == "message.created" and f["message"]["body"] == "Hello 4")
    from sqlalchemy import func, select

    from server.cli import opened
    from server.store.schema import conversation_entries as entries
    from server.store.schema import messages

    async with opened(settings_for(strict)) as state:
        stored_messages, stored_notes = await state.db.read(lambda conn: (
            conn.execute(select(func.count()).select_from(messages)
                         .where(messages.c.conversation_id == conversation_id)).scalar_one(),
            conn.execute(select(func.count()).select_from(entries)
                         .where((entries.c.conversation_id == conversation_id) & (entries.c.kind == "note"))).scalar_one(),
        ))
    assert (stored_messages, stored_notes) == (6, 5)
    assert sum(f["type"] == "typing" for f in visitor.seen) == 5  # the visitor saw only what passed
    await visitor.close()
    await console.close()
    await http.aclose()


async def test_one_address_may_hold_only_so_many_sockets(strict: ServerProcess) -> None:
    site_key, origin, token = await _seeded_visitor(strict)
    held = [(await connect_visitor(strict, site_key, origin, token))[0] for _ in range(3)]
    async with websockets.connect(f"{strict.ws_url}/ws/visitor?site={site_key}", origin=origin) as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.wait_closed()
    assert (error["code"], error["limit"]) == ("rate_limited", "sockets_per_ip")
    assert ws.close_code == 4429 and "too many connections" in (ws.close_reason or "")
    await held.pop().close()
    for _ in range(50):  # the server notices the close a moment later
        async with websockets.connect(f"{strict.ws_url}/ws/visitor?site={site_key}", origin=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 1}))
            if json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "welcome":
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("a freed socket slot was not given back")
    for client in held:
        await client.close()


async def test_new_visitors_per_address_are_limited_with_a_json_429(strict: ServerProcess) -> None:
    site = await make_site(strict)
    origin = site.allowed_origins[0]
    responses = [await _post_visitor(strict, site.key, origin, '{"token": null}') for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    refused = responses[-1]
    assert refused.headers["content-type"] == "application/json" and int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert (error["code"], error["limit"]) == ("rate_limited", "new_visitors_per_ip")
    assert "3" in error["message"]
    # A returning visitor (with a token) is not a new one: not limited.
    token = responses[0].json()["token"]
    again = await _post_visitor(strict, site.key, origin, json.dumps({"token": token}))
    assert again.status_code == 200


# --- visitor tokens ----------------------------------------------------------------------

async def test_a_revoked_visitor_token_is_refused_and_the_next_day_reload_works(sqlite_server: ServerProcess) -> None:
    server = sqlite_server
    site = await make_site(server)
    origin = site.allowed_origins[0]
    settings = settings_for(server)
    first = await start_visitor(server, site.key, origin)
    visitor_id = first["visitor"]["id"]
    client, _ = await connect_visitor(server, site.key, origin, first["token"])
    await client.send({"type": "message.send", "id": new_id(), "body": "Do you deliver?"})
    await client.recv_until(lambda f: f["type"] == "ack")
    await client.close()

    # The next day the page is loaded again with yesterday's token: same visitor, same
    # conversation, a fresh token.
    signer = Signer(settings.resolved_secret_key(), visitor_token_days=settings.visitor_token_days)
    with mock.patch("time.time", return_value=time.time() - 86400):
        yesterdays = signer.visitor_token(visitor_id, site.id)
    today = await start_visitor(server, site.key, origin, token=yesterdays)
    assert today["visitor"]["id"] == visitor_id and today["conversation"]["last_seq"] == 1
    client, welcome = await connect_visitor(server, site.key, origin, today["token"], last_seq=1)
    assert welcome["conversation"]["last_seq"] == 1
    await client.close()

    unknown = frontdesk(server, "revoke-visitor", "no-such-visitor")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "frontdesk: error (visitor): No visitor has this id."
    revoked = frontdesk(server, "revoke-visitor", visitor_id)
    assert revoked.returncode == 0, revoked.stderr
    for token in (first["token"], yesterdays, today["token"]):
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                f"{server.url}/api/widget/v1/sites/{site.key}/visitors", json={"token": token}, headers={"Origin": origin}
            )
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
        async with websockets.connect(f"{server.ws_url}/ws/visitor?site={site.key}", origin=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["code"] == "invalid_token"
            await ws.wait_closed()
            assert ws.close_code == 4401
    # The widget then starts over as a new visitor, which works.
    fresh = await start_visitor(server, site.key, origin)
    assert fresh["visitor"]["id"] != visitor_id
    client, _ = await connect_visitor(server, site.key, origin, fresh["token"])
    await client.close()

