"""Catching up from any gap: replays stream, whatever the backlog (issue 14, item 3)."""

from __future__ import annotations

import json
import time

import httpx

from tests.clients import FrameClient, connect_operator, connect_visitor, console_login, new_id
from tests.factories import PASSWORD, make_operator, make_site, seed_conversation, settings_for
from tests.servers import ServerProcess

MISSED = 10_050  # more than the send queue (5,000) and the hub's queue (2,000) hold


async def _last_event_id(http: httpx.AsyncClient) -> int:
    response = await http.get("/api/console/v1/conversations")
    return int(response.json()["last_event_id"])


async def test_a_console_that_missed_10000_events_gets_them_all_in_order(server: ServerProcess) -> None:
    site = await make_site(server)
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http, after_event=await _last_event_id(http))
    await console.close()  # the console goes away …

    started = time.perf_counter()
    _, conversation_id = await seed_conversation(settings_for(server), site.key, MISSED)
    print(f"\nseeded {MISSED} messages in {time.perf_counter() - started:.1f}s")
    newest = await _last_event_id(http)

    # … and comes back, resuming after the last event it had.
    started = time.perf_counter()
    console = await connect_operator(server, http, after_event=newest - MISSED - 1)
    event_ids: list[int] = []
    seqs: list[int] = []
    while not event_ids or event_ids[-1] < newest:
        frame = await console.recv()
        event_ids.append(frame["event_id"])
        if frame["type"] == "message.created" and frame["conversation_id"] == conversation_id:
            seqs.append(frame["message"]["seq"])
    print(f"replayed {len(event_ids)} events in {time.perf_counter() - started:.1f}s")
    assert event_ids == list(range(newest - MISSED, newest + 1))  # all, in order, none twice
    assert seqs == list(range(1, MISSED + 1))
    # Then live as usual.
    await console.send({"type": "ping"})
    assert (await console.recv())["type"] == "pong"
    await console.close()
    await http.aclose()


async def test_a_widget_that_missed_a_long_conversation_gets_it_all(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    token, _ = await seed_conversation(settings_for(sqlite_server), site.key, MISSED)

    visitor, welcome = await connect_visitor(sqlite_server, site.key, origin, token, last_seq=0)
    assert welcome["conversation"]["last_seq"] == MISSED
    seqs = []
    while len(seqs) < MISSED:
        frame = await visitor.recv()
        assert frame["type"] == "message.created", frame
        seqs.append(frame["message"]["seq"])
    assert seqs == list(range(1, MISSED + 1))
    assert frame["message"]["body"] == f"Seeded message {MISSED}"
    # And the conversation goes on from there.
    await visitor.send({"type": "message.send", "id": new_id(), "body": "Still here"})
    ack = await visitor.recv_until(lambda f: f["type"] == "ack")
    assert ack["seq"] == MISSED + 1
    await visitor.close()


async def test_a_hello_with_a_bad_resume_position_gets_an_error_naming_it(sqlite_server: ServerProcess) -> None:
    import websockets

    site = await make_site(sqlite_server)
    origin = site.allowed_origins[0]
    token, _ = await seed_conversation(settings_for(sqlite_server), site.key, 3)
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    for bad in [True, False, 2**63, -1, 1.5, "7"]:
        async with websockets.connect(f"{sqlite_server.ws_url}/ws/visitor?site={site.key}", origin=origin) as ws:
            client = FrameClient(ws)
            await client.send({"type": "hello", "token": token, "last_seq": bad})
            error = await client.recv()
            assert (error["type"], error["code"], error["field"]) == ("error", "invalid", "last_seq"), (bad, error)
            await ws.wait_closed()
            assert ws.close_code == 4400
        async with websockets.connect(
            f"{sqlite_server.ws_url}/ws/console", origin=sqlite_server.origin, additional_headers={"Cookie": cookie}
        ) as ws:
            client = FrameClient(ws)
            await client.send({"type": "hello", "after_event": bad})
            error = await client.recv()
            assert (error["code"], error["field"]) == ("invalid", "after_event"), (bad, error)
            await ws.wait_closed()
            assert ws.close_code == 4400
    # The largest valid position is fine: nothing after it.
    visitor, _ = await connect_visitor(sqlite_server, site.key, origin, token, last_seq=2**63 - 1)
    await visitor.send({"type": "ping"})
    assert await visitor.recv() == {"type": "pong"}
    await visitor.close()
    console = await connect_operator(sqlite_server, http, after_event=2**63 - 1)
    await console.ws.send(json.dumps({"type": "ping"}))
    assert (await console.recv())["type"] == "pong"
    await console.close()
    await http.aclose()
