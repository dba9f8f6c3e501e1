"""Chat messages on PostgreSQL, written in bulk by two nodes at once (no lock between
them): one conversation's seqs stay unique and gapless, a re-send creates nothing, and
each node's relay hands its sockets every message once, in order."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from tests.conftest import Backend
from tests.test_hubs import _redis_hub


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    backend = Backend("postgres", tmp_path)
    yield backend.url
    backend.close()


class ChatNode:
    def __init__(self, db: Any, hub: Any, relay: Any, writer: Any) -> None:
        self.db, self.hub, self.relay, self.writer = db, hub, relay, writer


@pytest.fixture
async def chat_nodes(pg_url: str) -> AsyncIterator[tuple[ChatNode, ChatNode]]:
    from server.store import migrate
    from server.store.db import Database
    from server.store.writer import GroupWriter
    from server.workers.relay import EventRelay

    setup = Database(pg_url)
    await migrate.upgrade(setup)
    await setup.close()
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    nodes = []
    for _ in range(2):
        db = Database(pg_url)  # a pool of its own, as a node has
        hub = await _redis_hub()
        hub.prefix = prefix  # type: ignore[attr-defined]
        relay = EventRelay(db, hub, poll_seconds=0.2, gap_grace=0.02)  # type: ignore[arg-type]
        await relay.start()
        writer = GroupWriter(db, on_commit=relay.committed, shared=True, max_batch=64)
        writer.start()
        nodes.append(ChatNode(db, hub, relay, writer))
    yield nodes[0], nodes[1]
    for node in nodes:
        await node.writer.stop()
        await node.relay.stop()
        await node.hub.close()
        await node.db.close()


async def _people(db: Any, visitors: int) -> tuple[int, list[str], Any]:
    from server.store import operators, sites, visitors as visitor_store

    def make(conn: Any) -> tuple[int, list[str], Any]:
        site = sites.insert_site(conn, key=uuid.uuid4().hex, name="Shop", allowed_origins=["http://shop.test"],
                                 color="#0055aa", position="auto")
        ids = [uuid.uuid4().hex for _ in range(visitors)]
        for vid in ids:
            visitor_store.insert_visitor(conn, id=vid, site_id=site.id, name=f"<b>{vid[:4]}</b>")
        operator = operators.insert_operator(conn, email=f"{uuid.uuid4().hex[:8]}@shop.test", name="Olga",
                                             password_hash="x", role="admin")
        return site.id, ids, operator

    return await db.transaction(make)


async def test_two_nodes_writing_one_conversation_keep_seqs_and_live_order(
    chat_nodes: tuple[ChatNode, ChatNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.services import chat, pg_chat
    from server.store.conversations import list_messages

    in_bulk = []  # how many messages each call of the bulk path stored or acked
    store_messages = pg_chat.store_messages

    async def counted(raw: Any, items: list[Any], memo: dict[str, Any], one_statement: bool) -> list[Any] | None:
        done = await store_messages(raw, items, memo, one_statement)
        if done is not None:
            in_bulk.append(len(done))
        return done

    monkeypatch.setattr(pg_chat, "store_messages", counted)

    a, b = chat_nodes
    site_id, visitor_ids, operator = await _people(a.db, 6)
    watchers = []
    for node in (a, b):
        subscription = node.hub.subscription()
        await subscription.add("operators")
        watchers.append(subscription)

    # Each visitor's first message opens their conversation (the Core path), on node A.
    first = [await chat.queue_visitor_message(a.writer, site_id, vid, uuid.uuid4().hex, "hello") for vid in visitor_ids]
    shared = first[0].conversation_id
    each = 40

    async def visitor(n: int, vid: str) -> list[Any]:
        node = a if n % 2 == 0 else b
        futures = [chat.queue_visitor_message(node.writer, site_id, vid, uuid.uuid4().hex, f"v{n} m{j}")
                   for j in range(each)]
        return list(await asyncio.gather(*futures))

    async def operator_replies() -> list[Any]:  # into the first visitor's conversation, from node B
        futures = []
        for j in range(each):
            futures.append(chat.queue_operator_message(b.writer, operator, shared, uuid.uuid4().hex, f"op {j}"))
            await asyncio.sleep(0)
        return list(await asyncio.gather(*futures))

    results = await asyncio.gather(*(visitor(n, vid) for n, vid in enumerate(visitor_ids)), operator_replies())
    acks = [ack for batch in results for ack in batch]

    # A re-send (same client id) on the other node: the same ack, nothing new.
    again = await chat.queue_visitor_message(b.writer, site_id, visitor_ids[0], results[0][5].client_id, "v0 m5")
    assert again == results[0][5]

    assert sum(in_bulk) == len(acks) + 1 and max(in_bulk) > 1, "messages into open conversations go in bulk"

    stored = await a.db.read(lambda conn: list_messages(conn, shared))
    assert [m.seq for m in stored] == list(range(1, 2 * each + 2)), "seqs of the shared conversation"
    assert sorted(x.seq for x in acks if x.conversation_id == shared) == list(range(2, 2 * each + 2))
    assert {(m.client_id, m.seq) for m in stored} >= {(x.client_id, x.seq) for x in acks if x.conversation_id == shared}

    total = len(first) + len(acks)  # messages; and each first one opened a conversation
    for watcher in watchers:  # every event once, in id order, each conversation's seqs in order
        frames = [await asyncio.wait_for(watcher.get(), 10) for _ in range(total + len(first))]
        ids = [f["event_id"] for f in frames]
        assert ids == sorted(set(ids))
        created = [f for f in frames if f["type"] == "message.created"]
        assert len(created) == total
        by_conversation: dict[str, list[int]] = {}
        for frame in created:
            by_conversation.setdefault(frame["conversation_id"], []).append(frame["message"]["seq"])
        for conversation_id, seqs in by_conversation.items():
            assert seqs == list(range(1, len(seqs) + 1)), conversation_id
        last = [f for f in created if f["conversation_id"] == shared][-1]["conversation"]
        assert last["last_seq"] == 2 * each + 1
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(watcher.get(), 0.3)
        await watcher.close()


async def test_messages_written_in_bulk_queue_their_webhook_deliveries_once(
    chat_nodes: tuple[ChatNode, ChatNode],
) -> None:
    """The bulk statement queues the deliveries of the events it writes (the same rows as
    ``queue_deliveries``: each subscribed, enabled endpoint of the event's site, once), the
    Core jobs of the same batches theirs, and the writer is told there is webhook work."""
    from sqlalchemy import select, update

    from server.services import chat
    from server.store import webhooks
    from server.store.schema import events, webhook_endpoints

    a, b = chat_nodes
    site_id, visitor_ids, _ = await _people(a.db, 4)
    woken: list[set[str]] = []
    a.writer._on_work = woken.append

    def endpoints(conn: Any) -> list[Any]:
        made = [webhooks.insert_endpoint(conn, site_id=site_id, url=f"https://hooks.test/{name}", secret="s",
                                         description=None, event_types=types)
                for name, types in (("all", ()), ("messages", ("message.created", "message.created")),
                                    ("closed", ("conversation.closed",)), ("off", ()))]
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == made[3].id).values(enabled=False))
        return made

    every, messages, closed, off = await a.db.transaction(endpoints)
    first = [await chat.queue_visitor_message(a.writer, site_id, vid, uuid.uuid4().hex, "hi") for vid in visitor_ids]
    woken.clear()
    more = []
    for _ in range(3):  # the first wave the locked way, the next ones in one statement a batch
        more += await asyncio.gather(*(chat.queue_visitor_message(a.writer, site_id, vid, uuid.uuid4().hex, f"m{j}")
                                       for j in range(10) for vid in visitor_ids))
    assert await _guarded_runs(a) >= 2
    assert {"webhooks"} <= set().union(*woken)

    def read(conn: Any) -> tuple[dict[str, list[int]], list[int]]:
        by_endpoint = {name: [r["event_id"] for r in webhooks.list_deliveries(conn, e.id)]
                       for name, e in (("every", every), ("messages", messages), ("closed", closed), ("off", off))}
        created = conn.execute(select(events.c.id).where(events.c.type == "message.created")).scalars()
        return by_endpoint, list(created)

    got, created = await a.db.read(read)
    assert len(created) == len(first) + len(more)
    assert sorted(got["messages"]) == sorted(created), "each message's delivery, once"
    assert set(created) <= set(got["every"]) and len(got["every"]) == len(set(got["every"]))
    assert got["closed"] == [] and got["off"] == []


async def test_the_writer_plans_its_statements_again_as_its_batches_double(
    chat_nodes: tuple[ChatNode, ChatNode],
) -> None:
    """A prepared statement's generic plan is made for the tables as they were (store/
    pg_writer.py): the writer prepares its statements again after 16, 32, ... batches, and
    messages and re-sends keep their seqs and acks across it."""
    from server.services import chat
    from server.store.conversations import list_messages

    a, _ = chat_nodes
    site_id, (vid,), _ = await _people(a.db, 1)
    acks = [await chat.queue_visitor_message(a.writer, site_id, vid, f"c{j}", f"m{j}") for j in range(40)]
    assert [x.seq for x in acks] == list(range(1, 41))
    again = await chat.queue_visitor_message(a.writer, site_id, vid, "c3", "m3")
    assert again == acks[3]
    stored = await a.db.read(lambda conn: list_messages(conn, acks[0].conversation_id))
    assert [(m.seq, m.body) for m in stored] == [(j + 1, f"m{j}") for j in range(40)]

    conn = await a.writer._pg_conn.get()
    raw = (await conn.get_raw_connection()).driver_connection
    plans = await raw.fetch("SELECT generic_plans + custom_plans AS runs FROM pg_prepared_statements"
                            " WHERE statement LIKE '%unnest($1::text[], $2::text[], $3::text[])%'")
    # 41 batches, prepared again at the 32nd: its executions since then, not all 41.
    assert plans and max(p["runs"] for p in plans) <= 10


async def _guarded_runs(node: ChatNode) -> int:
    """How often the node's writer ran its one-statement write (services/pg_chat.py)."""
    conn = await node.writer._pg_conn.get()
    raw = (await conn.get_raw_connection()).driver_connection
    plans = await raw.fetch("SELECT generic_plans + custom_plans AS runs FROM pg_prepared_statements"
                            " WHERE statement LIKE '%cardinality($9::text[])%'")
    return sum(p["runs"] for p in plans)


async def test_a_node_writing_again_sees_what_others_changed_meanwhile(chat_nodes: tuple[ChatNode, ChatNode]) -> None:
    """A node remembers the conversations it wrote and writes the next messages into them in
    one statement, which checks that nothing changed: a visitor's new name, an operator's
    read mark and assignment, or another node's reply show in the next message's event, with
    the right seq and unread count, and a re-send still gets its first ack."""
    from sqlalchemy import update

    from server.services import chat
    from server.store.conversations import get_conversation_row
    from server.store.db import utcnow
    from server.store.schema import conversations, visitors

    a, b = chat_nodes
    site_id, (vid,), operator = await _people(a.db, 1)
    watcher = a.hub.subscription()
    await watcher.add("operators")
    acks = [await chat.queue_visitor_message(a.writer, site_id, vid, f"c{j}", f"m{j}") for j in range(3)]
    cid = acks[0].conversation_id
    runs = await _guarded_runs(a)
    assert runs >= 1, "the messages after the first two went in one statement"

    def change(values: dict[str, Any], table: Any = conversations) -> Any:
        key = table.c.id == (vid if table is visitors else cid)
        return lambda conn: conn.execute(update(table).where(key).values(**values))

    await b.db.transaction(change({"name": "Aigerim", "email": "a@shop.test"}, visitors))
    named = await chat.queue_visitor_message(a.writer, site_id, vid, "c3", "m3")
    await b.db.transaction(change({"read_seq": 4, "unread_count": 0, "assignee_id": operator.id}))
    read = await chat.queue_visitor_message(a.writer, site_id, vid, "c4", "m4")
    reply = await chat.queue_operator_message(b.writer, operator, cid, "r1", "hello from B")
    after_reply = await chat.queue_visitor_message(a.writer, site_id, vid, "c5", "m5")
    again = await chat.queue_visitor_message(a.writer, site_id, vid, "c4", "m4")
    assert [x.seq for x in (*acks, named, read, reply, after_reply)] == [1, 2, 3, 4, 5, 6, 7]
    assert again == read

    frames = [await asyncio.wait_for(watcher.get(), 10) for _ in range(8)]  # + the first's conversation.created
    created = {f["message"]["client_id"]: f["conversation"] for f in frames if f["type"] == "message.created"}
    assert created["c3"]["visitor"]["name"] == "Aigerim" and created["c3"]["visitor"]["email"] == "a@shop.test"
    assert created["c3"]["unread_count"] == 4 and created["c3"]["read_seq"] == 0
    assert (created["c4"]["read_seq"], created["c4"]["unread_count"]) == (4, 1)
    assert created["c4"]["assignee"] == {"id": operator.id, "name": "Olga"}
    assert (created["c5"]["last_seq"], created["c5"]["unread_count"]) == (7, 1), "after B's reply"
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(watcher.get(), 0.3)
    await watcher.close()
    # A conversation someone else wrote goes the locked way for a while (pg_chat.COLD_BATCHES).
    runs = await _guarded_runs(a)
    more = [await chat.queue_visitor_message(a.writer, site_id, vid, f"d{j}", f"n{j}") for j in range(40)]
    assert [x.seq for x in more] == list(range(8, 48))
    assert await _guarded_runs(a) > runs, "written in one statement again once nothing changes"

    # Closed meanwhile: the visitor's next message reopens it (the Core path), not written
    # into a closed conversation.
    await b.db.transaction(change({"status": "closed", "closed_at": utcnow()}))
    reopened = await chat.queue_visitor_message(a.writer, site_id, vid, "e1", "back again")
    row = await a.db.read(lambda conn: get_conversation_row(conn, cid))
    assert (reopened.seq, row.status, row.closed_at) == (48, "open", None)


async def test_a_long_queue_is_written_in_batches_of_at_most_the_cap(chat_nodes: tuple[ChatNode, ChatNode]) -> None:
    """On PostgreSQL a writer takes at most ``pg_writer.MAX_BATCH`` jobs a batch (smaller
    batches keep a long queue moving: docs/benchmarks.md), and every message of the queue
    lands once, in order, with its ack."""
    from server.services import chat
    from server.store.conversations import list_messages
    from server.store.db import Database
    from server.store.pg_writer import MAX_BATCH
    from server.store.writer import GroupWriter

    a, _ = chat_nodes
    site_id, visitor_ids, _ = await _people(a.db, 10)
    for vid in visitor_ids:  # each conversation opened (the Core path)
        await chat.queue_visitor_message(a.writer, site_id, vid, uuid.uuid4().hex, "hello")
    db = Database(a.db.url)
    writer = GroupWriter(db, max_batch=256)
    writer.start()
    try:
        queued = [chat.queue_visitor_message(writer, site_id, visitor_ids[n % 10], f"q{n}", f"m{n}")
                  for n in range(200)]
        acks = await asyncio.gather(*queued)
        assert writer.batches >= 200 / MAX_BATCH and writer.writes == 200
    finally:
        await writer.stop()
        await db.close()
    stored = await a.db.read(lambda conn: list_messages(conn, acks[0].conversation_id))
    assert [m.body for m in stored] == ["hello"] + [f"m{n}" for n in range(0, 200, 10)]
    assert [x.seq for x in acks[::10]] == list(range(2, 22))
