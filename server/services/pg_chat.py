"""Chat messages in bulk on PostgreSQL: a write batch's messages in two statements.

The same rows, events and acks as ``chat.store_message`` (and the SQLite driver path,
``chat._store_message_raw``), for messages into an open conversation; anything else (a
visitor's first message, one that reopens a closed conversation, a conversation the
operator may not see) is left to the job's Core path, which decides as before.

1. ``_RESOLVE``: each message's conversation (a visitor's latest, or the one an operator
   named), locked in id order (``FOR UPDATE``, row by row down the sorted ids: two nodes
   writing the same conversations wait for each other instead of deadlocking), with what
   its summary shows and the message already stored under the same client id (a re-send).
   Every lookup is a ``LATERAL ... LIMIT 1`` probe by key, so whatever plan PostgreSQL
   settles on for the prepared statement (a generic one, made while the tables were
   small: ``store/pg_writer.py``), it stays one index probe a row, never a hash of the
   whole of ``messages`` or ``conversations``.
2. ``_WRITE``: the messages (``ON CONFLICT DO NOTHING``), each conversation's seq,
   unread count and preview, the events and their webhook deliveries (the same rows as
   ``store.webhooks.queue_deliveries``), in one statement of four parts.

A re-send that races the original on another node conflicts in step 2 although step 1
did not see it: the batch fails and the writer runs its jobs one by one, where step 1
finds the original and acks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from .. import json_text
from ..store.conversations import RawConversation
from ..store import leases
from ..store.db import iso, utcnow
from ..store.outbox import StoredEvent
from ..store.pg_writer import Done
from ..store.webhooks import ALL_EVENTS
from . import conversations, events

_RESOLVE = """
WITH k AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(visitor_id, conversation_id, client_id, ord)
), r AS (
    SELECT k.ord, k.client_id, coalesce(k.conversation_id, (
        SELECT c.id FROM conversations c WHERE c.visitor_id = k.visitor_id ORDER BY c.created_at DESC LIMIT 1
    )) AS cid FROM k
), l AS (
    SELECT c.id, c.site_id, c.visitor_id, c.status, c.created_at, c.unread_count, c.last_seq, s.name AS site_name,
           v.name AS visitor_name, v.email AS visitor_email, v.phone AS visitor_phone, c.read_seq, c.assignee_id,
           a.name AS assignee_name, c.closed_at
    FROM (SELECT DISTINCT cid FROM r ORDER BY cid) w
    JOIN LATERAL (SELECT * FROM conversations c WHERE c.id = w.cid LIMIT 1) c ON true
    JOIN LATERAL (SELECT name FROM sites s WHERE s.id = c.site_id LIMIT 1) s ON true
    JOIN LATERAL (SELECT name, email, phone FROM visitors v WHERE v.id = c.visitor_id LIMIT 1) v ON true
    LEFT JOIN LATERAL (SELECT name FROM operators a WHERE a.id = c.assignee_id LIMIT 1) a ON true
    ORDER BY c.id FOR UPDATE OF c
)
SELECT l.*, m.seq AS existing_seq, m.created_at AS existing_at
FROM r LEFT JOIN l ON l.id = r.cid
LEFT JOIN LATERAL (
    SELECT m.seq, m.created_at FROM messages m WHERE m.conversation_id = r.cid AND m.client_id = r.client_id LIMIT 1
) m ON true
ORDER BY r.ord
"""

_WRITE = """
WITH m AS (
    INSERT INTO messages (conversation_id, seq, client_id, author_kind, author_id, author_name, body, created_at)
    SELECT *, $8::timestamptz FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                                          $7::text[])
    ON CONFLICT DO NOTHING RETURNING 1
), u AS (
    UPDATE conversations c SET last_seq = x.last_seq, last_message_at = $8, last_message_preview = x.preview,
                               unread_count = x.unread
    FROM unnest($9::text[], $10::int[], $11::text[], $12::int[]) AS x(id, last_seq, preview, unread)
    WHERE c.id = x.id RETURNING 1
), e AS (
    INSERT INTO events (type, site_id, conversation_id, payload, created_at)
    SELECT *, $8::timestamptz FROM unnest($13::text[], $14::int[], $15::text[], $16::text[])
    RETURNING id, type, site_id
), d AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, claims, next_attempt_at, created_at)
    SELECT DISTINCT s.endpoint_id, e.id, '%(pending)s', 0, 0, $8, $8 FROM e
    JOIN webhook_subscriptions s ON s.site_id = e.site_id AND (s.event_type = e.type OR s.event_type = '%(all)s')
    JOIN webhook_endpoints w ON w.id = s.endpoint_id
    WHERE w.enabled
    RETURNING 1
)
SELECT (SELECT count(*) FROM m) AS inserted, (SELECT count(*) FROM u) AS updated,
       (SELECT array_agg(id ORDER BY id) FROM e) AS ids, (SELECT count(*) FROM d) AS deliveries
""" % {"pending": leases.PENDING, "all": ALL_EVENTS}
_CONVERSATION_COLUMNS = 15  # _RESOLVE's columns that make a RawConversation


class ResendRaced(RuntimeError):
    """A message's client id was stored by another transaction after step 1 looked."""


@dataclass(frozen=True)
class MessageItem:
    """One chat message for the bulk path: a visitor's (``visitor_id``: into their latest
    conversation) or an operator's (``conversation_id``, on one of ``site_ids`` unless None)."""

    client_id: str
    body: str
    preview: str
    author_kind: str
    author_id: str | None
    author_name: str | None
    ack: Callable[[str, str, int, str | None], Any]  # (client id, conversation id, seq, created at) -> Ack
    visitor_id: str | None = None
    conversation_id: str | None = None
    site_ids: Any = None

    @property
    def handler(self) -> Any:
        return store_messages


def in_bulk(job: Any, item: MessageItem) -> Any:
    """Mark a writer job as one the PostgreSQL writer may run in bulk (store/pg_writer.py)."""
    job.pg_bulk = item
    return job


@dataclass
class _Row:
    message: tuple[Any, ...]
    event: tuple[Any, ...]


async def store_messages(raw: Any, items: list[MessageItem]) -> list[Done]:
    """Store the leading ``items`` whose conversation is open and theirs to write."""
    rows = await raw.fetch(
        _RESOLVE, [i.visitor_id for i in items], [i.conversation_id for i in items], [i.client_id for i in items]
    )
    found: dict[str, RawConversation] = {}
    bases: dict[str, dict[str, Any]] = {}  # each conversation's summary, made once a batch
    done: list[Done] = []
    new: list[tuple[int, _Row]] = []  # (index in done, its rows)
    acked: dict[tuple[str, str], Any] = {}  # a client id twice in one batch: one message
    # One time for the batch's messages (they are committed together), formatted once, as
    # on SQLite (services/chat_batch.py): ISO formatting per message was ~5 % of a node's CPU.
    now = utcnow()
    at_iso = iso(now)
    for item, row in zip(items, rows):
        if row["id"] is None or row["status"] != conversations.OPEN:
            break  # a first message, or a closed conversation: the Core path
        if item.site_ids is not None and row["site_id"] not in item.site_ids:
            break  # the Core path refuses it as not found
        conversation = found.get(row["id"])
        if conversation is None:
            conversation = found[row["id"]] = RawConversation(*list(row.values())[:_CONVERSATION_COLUMNS])
            bases[conversation.id] = conversation.summary(now, None)
        key = (conversation.id, item.client_id)
        if row["existing_seq"] is not None:  # a re-send: same ack, nothing new
            done.append(Done(item.ack(item.client_id, conversation.id, row["existing_seq"], iso(row["existing_at"])), []))
            continue
        if key in acked:
            done.append(Done(acked[key], []))
            continue
        seq = conversation.last_seq + 1
        conversation.last_seq = seq
        conversation.unread_count = conversation.unread_count + 1 if item.author_kind == "visitor" else 0
        # Message.public() and RawConversation.summary(), with the batch's time formatted once;
        # the summary's nested dicts are shared by the batch's payloads (never changed).
        message = {"seq": seq, "client_id": item.client_id,
                   "author": {"kind": item.author_kind, "name": item.author_name}, "body": item.body,
                   "created_at": at_iso}
        summary = {**bases[conversation.id], "last_message_preview": item.preview,
                   "unread_count": conversation.unread_count, "last_seq": seq}
        payload = {"conversation_id": conversation.id, "message": message, "conversation": summary}
        acked[key] = item.ack(item.client_id, conversation.id, seq, at_iso)
        new.append((len(done), _Row(
            (conversation.id, seq, item.client_id, item.author_kind, item.author_id, item.author_name, item.body),
            (events.MESSAGE_CREATED, conversation.site_id, conversation.id, payload),
        )))
        done.append(Done(acked[key], []))
    if new:
        await _write(raw, found, done, new, now)
    return done


async def _write(
    raw: Any, found: dict[str, RawConversation], done: list[Done], new: list[tuple[int, _Row]], now: datetime
) -> None:
    messages = list(zip(*(r.message for _, r in new)))
    types, site_ids, conversation_ids, payloads = zip(*(r.event for _, r in new))
    latest: dict[str, tuple[int, str]] = {}  # each conversation's last seq and preview
    for _, r in new:
        latest[r.message[0]] = (r.message[1], r.event[3]["conversation"]["last_message_preview"])
    # The batch's one time goes once ($8), not as an array of copies: each timestamp in an
    # array is one more conversion in the driver, per message and per conversation.
    result = await raw.fetchrow(
        _WRITE, *messages, now,
        list(latest), [v[0] for v in latest.values()], [v[1] for v in latest.values()],
        [found[c].unread_count for c in latest],
        list(types), list(site_ids), list(conversation_ids),
        [json_text.dumps(p) for p in payloads],
    )
    if result["inserted"] != len(new):
        raise ResendRaced("a message's client id was stored meanwhile: the writer runs the batch one by one")
    # Event ids were taken in row order (one sequence, rows inserted in array order).
    for event_id, (index, r) in zip(result["ids"], new):
        done[index] = Done(done[index].result, [StoredEvent(event_id, *r.event)], queued=True)
    if result["deliveries"]:
        first = new[0][0]
        done[first] = Done(done[first].result, done[first].events, queued=True, deliveries=result["deliveries"])
