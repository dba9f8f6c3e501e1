"""The writer's batch path (SQLite): a batch's chat messages written together with a few
statements must store exactly what one-by-one writing stores — seq in order per
conversation, unread counts, one row and one event per new message, re-sends acked
with the first one's seq, and a failing job failing only itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from server.errors import NotFound
from server.security import Signer
from server.services import chat, conversations as actions, operators, sites, visitors, webhooks
from server.store import conversations, migrate
from server.store.db import Database
from server.store.operators import Operator
from server.store.outbox import StoredEvent, events_after
from server.store.schema import messages, webhook_deliveries
from server.store.writer import GroupWriter, Tx


class Setup:
    def __init__(self, db: Database, writer: GroupWriter, site: Any, signer: Signer, published: list[StoredEvent]):
        self.db, self.writer, self.site, self.signer, self.published = db, writer, site, signer, published

    async def visitor(self, first: str | None = "hello") -> tuple[str, str | None]:
        """A visitor, and (with ``first``) their open conversation, opened by that message."""
        visitor = (await visitors.start_session(self.writer, self.signer, self.site, None)).visitor
        if first is None:
            return visitor.id, None
        ack = await chat.queue_visitor_message(self.writer, self.site.id, visitor.id, f"{visitor.id}-0", first)
        return visitor.id, ack.conversation_id

    def say(self, visitor_id: str, client_id: str, body: str) -> asyncio.Future[chat.Ack]:
        return chat.queue_visitor_message(self.writer, self.site.id, visitor_id, client_id, body)

    async def one_batch(self, *futures: asyncio.Future[Any]) -> list[Any]:
        """Wait for futures queued together: they must have gone in one commit."""
        before = self.writer.batches
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert self.writer.batches - before == 1, "the messages were not committed as one batch"
        return results

    async def stored(self, conversation_id: str) -> list[tuple[int, str, str, str]]:
        rows = await self.db.read(lambda conn: conversations.list_messages(conn, conversation_id))
        return [(m.seq, m.client_id, m.author_kind, m.body) for m in rows]

    async def summary(self, conversation_id: str) -> dict[str, Any]:
        summary = await self.db.read(lambda conn: conversations.get_summary(conn, conversation_id))
        assert summary is not None
        return summary


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'batch.db'}")
    await migrate.upgrade(db)
    published: list[StoredEvent] = []

    async def on_commit(events: list[StoredEvent]) -> None:
        published.extend(events)

    writer = GroupWriter(db, on_commit=on_commit)
    writer.start()
    site = await sites.create_site(writer, "Batch", ["http://batch.test"])
    yield Setup(db, writer, site, Signer("batch-test-" + "z" * 40, visitor_token_days=1), published)
    await writer.stop()
    await db.close()


def statements(db: Database) -> list[str]:
    """The SQL SQLite runs from now on (each row of an executemany counts once)."""
    assert db.sync_engine is not None
    db.sync_engine.dispose()
    seen: list[str] = []
    writer_connection = db._writer_connection  # the writer's own, kept across batches (store/db.py)
    if writer_connection is not None:
        writer_connection.connection.dbapi_connection.set_trace_callback(seen.append)

    @event.listens_for(db.sync_engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    return seen


def created(published: list[StoredEvent], conversation_id: str) -> list[StoredEvent]:
    return [e for e in published if e.type == "message.created" and e.conversation_id == conversation_id]


async def test_a_batch_from_several_visitors_keeps_each_conversations_order(setup: Setup) -> None:
    people = [await setup.visitor() for _ in range(3)]
    before = len(setup.published)
    trace = statements(setup.db)
    futures = [setup.say(v, f"{v}-{n}", f"message {n}") for n in range(1, 5) for v, _ in people]
    acks = await setup.one_batch(*futures)
    # Written together: the conversations read once for the batch, not once a message.
    assert sum(1 for s in trace if s.startswith("SELECT") and "JOIN sites" in s) == 1

    for v, cid in people:
        mine = [a for a in acks if a.conversation_id == cid]
        assert [a.seq for a in mine] == [2, 3, 4, 5]
        assert [a.client_id for a in mine] == [f"{v}-{n}" for n in range(1, 5)]
        assert await setup.stored(cid) == [(1, f"{v}-0", "visitor", "hello")] + [
            (n + 1, f"{v}-{n}", "visitor", f"message {n}") for n in range(1, 5)
        ]
        events = created(setup.published[before:], cid)
        assert [e.payload["message"]["seq"] for e in events] == [2, 3, 4, 5]
        assert [e.payload["conversation"]["unread_count"] for e in events] == [2, 3, 4, 5]
        assert [e.payload["conversation"]["last_message_preview"] for e in events] == [
            f"message {n}" for n in range(1, 5)
        ]
        summary = await setup.summary(cid)
        assert events[-1].payload["conversation"] == summary  # what the console shows after a reload
        assert (summary["last_seq"], summary["unread_count"]) == (5, 5)
    # Published in submission order, with the ids they were stored under.
    stored = await setup.db.read(lambda conn: events_after(conn, setup.published[before - 1].id))
    assert [(e.id, e.payload) for e in stored] == [(e.id, e.payload) for e in setup.published[before:]]
    assert [e.payload["message"]["client_id"] for e in stored] == [a.client_id for a in acks]


async def test_a_re_send_in_the_same_batch_gets_the_first_ones_ack(setup: Setup) -> None:
    (v, cid), (w, wid) = await setup.visitor(), await setup.visitor()
    assert cid and wid
    before = len(setup.published)
    acks = await setup.one_batch(
        setup.say(v, "a", "once"), setup.say(w, "b", "other"), setup.say(v, "a", "once"), setup.say(v, "c", "next")
    )
    assert acks[0] == acks[2] and acks[0].seq == 2
    assert (acks[1].seq, acks[3].seq) == (2, 3)  # no gap left by the re-send
    assert await setup.stored(cid) == [(1, f"{v}-0", "visitor", "hello"), (2, "a", "visitor", "once"),
                                       (3, "c", "visitor", "next")]
    assert [e.payload["message"]["client_id"] for e in created(setup.published[before:], cid)] == ["a", "c"]
    assert (await setup.summary(cid))["unread_count"] == 3


async def test_a_re_send_of_an_earlier_batch_changes_nothing(setup: Setup) -> None:
    v, cid = await setup.visitor()
    assert cid
    first = await setup.say(v, "x", "stored earlier")
    before = len(setup.published)
    acks = await setup.one_batch(setup.say(v, "x", "stored earlier"), setup.say(v, "y", "new"),
                                 setup.say(v, "x", "stored earlier"))
    assert acks[0] == first == acks[2]
    assert acks[1].seq == 3
    assert await setup.stored(cid) == [(1, f"{v}-0", "visitor", "hello"), (2, "x", "visitor", "stored earlier"),
                                       (3, "y", "visitor", "new")]
    assert [e.payload["message"]["seq"] for e in setup.published[before:]] == [3]
    assert (await setup.summary(cid))["unread_count"] == 3  # the re-sends counted nothing


async def test_operator_replies_in_the_batch_reset_unread(setup: Setup) -> None:
    v, cid = await setup.visitor()
    assert cid
    olga = Operator(id=7, email="o@batch.test", name="Olga", role="agent", password_hash="-")
    before = len(setup.published)
    acks = await setup.one_batch(
        setup.say(v, "v1", "question"),
        chat.queue_operator_message(setup.writer, olga, cid, "o1", "answer"),
        chat.queue_operator_message(setup.writer, olga, cid, "o1", "answer"),  # a re-send
        setup.say(v, "v2", "thanks"),
    )
    assert [a.seq for a in acks] == [2, 3, 3, 4]
    events = created(setup.published[before:], cid)
    assert [(e.payload["message"]["author"]["kind"], e.payload["conversation"]["unread_count"]) for e in events] == [
        ("visitor", 2), ("operator", 0), ("visitor", 1),
    ]
    assert events[1].payload["message"]["author"]["name"] == "Olga"
    summary = await setup.summary(cid)
    assert (summary["last_seq"], summary["unread_count"], summary["last_message_preview"]) == (4, 1, "thanks")
    assert events[-1].payload["conversation"] == summary


async def test_a_failing_job_in_a_batch_fails_alone(setup: Setup) -> None:
    (v, cid), (w, wid) = await setup.visitor(), await setup.visitor()
    assert cid and wid
    olga = Operator(id=7, email="o@batch.test", name="Olga", role="agent", password_hash="-", site_ids=frozenset({999}))

    def broken(tx: Tx) -> None:
        tx.append_event("half.done", {})
        raise RuntimeError("boom")

    before = len(setup.published)
    results = await asyncio.gather(
        setup.say(v, "v1", "one"),
        chat.queue_operator_message(setup.writer, olga, cid, "o1", "not my site"),  # refused: another site
        setup.say(w, "w1", "two"),
        setup.writer.submit(broken),
        setup.say(v, "v2", "three"),
        chat.queue_operator_message(setup.writer, olga, "no-such-conversation", "o2", "lost"),
        return_exceptions=True,
    )
    assert isinstance(results[1], NotFound) and isinstance(results[5], NotFound)
    assert isinstance(results[3], RuntimeError)
    assert [(r.conversation_id, r.seq) for r in (results[0], results[2], results[4])] == [(cid, 2), (wid, 2), (cid, 3)]
    assert await setup.stored(cid) == [(1, f"{v}-0", "visitor", "hello"), (2, "v1", "visitor", "one"),
                                       (3, "v2", "visitor", "three")]
    assert [e.type for e in setup.published[before:]] == ["message.created"] * 3  # nothing of the failed ones
    stored = await setup.db.read(lambda conn: events_after(conn, setup.published[before - 1].id))
    assert [e.id for e in stored] == [e.id for e in setup.published[before:]]


async def test_first_messages_and_a_closed_conversation_inside_a_batch(setup: Setup) -> None:
    """A visitor's first message (the conversation made) and one into a closed conversation
    (reopened) take their own path in the middle of a batch; the messages after them
    in the same batch are written into the conversation they made or reopened."""
    signer = setup.signer
    anna = await operators.create_operator(setup.writer, signer, "anna@example.com", "a long password 1", name="Anna")
    new, _ = await setup.visitor(first=None)
    old, cid = await setup.visitor()
    assert cid
    await actions.close(setup.writer, anna, cid)
    before = len(setup.published)
    acks = await setup.one_batch(
        setup.say(new, "n1", "first ever"), setup.say(new, "n2", "and more"),
        setup.say(old, "o1", "back again"), setup.say(old, "o2", "still here"),
    )
    assert acks[0].conversation_id == acks[1].conversation_id and [a.seq for a in acks[:2]] == [1, 2]
    assert {a.conversation_id for a in acks[2:]} == {cid} and [a.seq for a in acks[2:]] == [2, 3]
    types = [e.type for e in setup.published[before:]]
    assert types == ["conversation.created", "message.created", "message.created",
                     "conversation.reopened", "message.created", "message.created"]
    summary = await setup.summary(cid)
    assert (summary["status"], summary["last_seq"], summary["unread_count"]) == ("open", 3, 3)
    assert setup.published[-1].payload["conversation"] == summary


async def test_a_batch_queues_webhook_deliveries_for_its_messages(setup: Setup) -> None:
    endpoint = await webhooks.create_endpoint(
        setup.writer, setup.db, setup.site.key, "http://127.0.0.1:9/hook", event_types=["message.created"],
        allow_private=True,
    )
    (v, _), (w, _) = await setup.visitor(), await setup.visitor()
    before = len(setup.published)
    await setup.one_batch(*(setup.say(x, f"{x}-{n}", f"m{n}") for n in range(1, 4) for x in (v, w)))
    ids = [e.id for e in setup.published[before:]]

    def queued(conn: Any) -> list[int]:
        return list(conn.execute(
            select(webhook_deliveries.c.event_id).where(webhook_deliveries.c.endpoint_id == endpoint.id)
            .where(webhook_deliveries.c.event_id >= ids[0]).order_by(webhook_deliveries.c.event_id)
        ).scalars())

    assert await setup.db.read(queued) == ids
    count = await setup.db.read(lambda conn: conn.execute(select(func.count()).select_from(messages)).scalar_one())
    assert count == 2 + 6


async def test_at_a_low_rate_no_message_waits_for_company(setup: Setup) -> None:
    """The writer holds a lone job up to 1 ms only when jobs come less than 2 ms apart on
    average: messages 20 ms apart are each committed as soon as they come."""
    v, cid = await setup.visitor()
    held = setup.writer.held
    for n in range(12):
        await asyncio.sleep(0.02)
        await setup.say(v, f"slow-{n}", f"slow {n}")
    assert setup.writer.held == held
    assert [seq for seq, *_ in await setup.stored(cid or "")][-12:] == list(range(2, 14))
