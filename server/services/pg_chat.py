"""Chat messages in bulk on PostgreSQL: a write batch's messages in one statement, or two.

The same rows, events and acks as ``chat.store_message`` (and the SQLite driver path,
``chat._store_message_raw``), for messages into an open conversation; anything else (a
visitor's first message, one that reopens a closed conversation, a conversation the
operator may not see) is left to the job's Core path, which decides as before.

A batch of nothing but messages into conversations this node has written lately goes as
one statement outside any transaction, ``_WRITE_IF_UNCHANGED``: the node remembers each
conversation as its last write left it (``Known``), and the statement locks them, checks
that each is still as remembered (seq, unread count, read mark, assignee, status; the
site's, visitor's and assignee's names its summary shows), and only then stores the
messages, conversations, events and webhook deliveries. One round trip a batch instead of
four (BEGIN, resolve, write, COMMIT), and no lock held across round trips (issue 20). When
anything changed (another node wrote, an operator read or took the conversation, the
visitor gave their name) it writes nothing, and the batch goes the locked way below; a
re-send (a client id stored already) breaks the statement on the unique index, which
undoes all of it, and goes the same way.

The locked way, in the writer's transaction:

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

from dataclasses import dataclass, replace
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

# The writes of a batch: the messages, each conversation's seq, unread count and preview,
# the events and their webhook deliveries. Guarded (``_WRITE_IF_UNCHANGED``) each part
# writes only if the conversations are as remembered (``ok``), and a re-send is an error
# rather than skipped: either undoes the whole statement.
_WRITES = """
m AS (
    INSERT INTO messages (conversation_id, seq, client_id, author_kind, author_id, author_name, body, created_at)
    SELECT *, $8::timestamptz FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                                          $7::text[])
    %(if_ok)s %(on_conflict)s RETURNING 1
), u AS (
    UPDATE conversations c SET last_seq = x.last_seq, last_message_at = $8, last_message_preview = x.preview,
                               unread_count = x.unread
    FROM unnest($9::text[], $10::int[], $11::text[], $12::int[]) AS x(id, last_seq, preview, unread)
    WHERE c.id = x.id %(and_ok)s RETURNING 1
), e AS (
    INSERT INTO events (type, site_id, conversation_id, payload, created_at)
    SELECT *, $8::timestamptz FROM unnest($13::text[], $14::int[], $15::text[], $16::text[]) %(if_ok)s
    RETURNING id, type, site_id
), d AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, claims, next_attempt_at, created_at)
    SELECT DISTINCT s.endpoint_id, e.id, '%(pending)s', 0, 0, $8, $8 FROM e
    JOIN webhook_subscriptions s ON s.site_id = e.site_id AND (s.event_type = e.type OR s.event_type = '%(all)s')
    JOIN webhook_endpoints w ON w.id = s.endpoint_id
    WHERE w.enabled
    RETURNING 1
)
SELECT %(ok)s AS ok, (SELECT count(*) FROM m) AS inserted, (SELECT count(*) FROM u) AS updated,
       (SELECT array_agg(id ORDER BY id) FROM e) AS ids, (SELECT count(*) FROM d) AS deliveries
"""
_WRITE = "WITH " + _WRITES % {
    "if_ok": "", "and_ok": "", "on_conflict": "ON CONFLICT DO NOTHING", "ok": "true",
    "pending": leases.PENDING, "all": ALL_EVENTS,
}
# $17-$27: each conversation ($9) as remembered, in the order of _state().
_WRITE_IF_UNCHANGED = """
WITH x AS (
    SELECT * FROM unnest($9::text[], $17::int[], $18::int[], $19::int[], $20::int[], $21::timestamptz[], $22::text[],
                         $23::text[], $24::text[], $25::text[], $26::text[], $27::text[])
        AS x(id, last_seq, unread_count, read_seq, assignee_id, closed_at, status, site_name, visitor_name,
             visitor_email, visitor_phone, assignee_name)
), k AS (
    SELECT c.id FROM x
    JOIN LATERAL (SELECT * FROM conversations c WHERE c.id = x.id LIMIT 1) c ON true
    JOIN LATERAL (SELECT name FROM sites s WHERE s.id = c.site_id LIMIT 1) s ON true
    JOIN LATERAL (SELECT name, email, phone FROM visitors v WHERE v.id = c.visitor_id LIMIT 1) v ON true
    LEFT JOIN LATERAL (SELECT name FROM operators a WHERE a.id = c.assignee_id LIMIT 1) a ON true
    WHERE (c.last_seq, c.unread_count, c.read_seq, c.assignee_id, c.closed_at, c.status, s.name, v.name, v.email,
           v.phone, a.name)
          IS NOT DISTINCT FROM
          (x.last_seq, x.unread_count, x.read_seq, x.assignee_id, x.closed_at, x.status, x.site_name, x.visitor_name,
           x.visitor_email, x.visitor_phone, x.assignee_name)
      -- still the visitor's latest (their thread), as _RESOLVE would find it
      AND NOT EXISTS (SELECT 1 FROM conversations n WHERE n.visitor_id = c.visitor_id AND n.created_at > c.created_at)
    ORDER BY c.id FOR UPDATE OF c
), ok AS (
    SELECT count(*) = cardinality($9::text[]) AS ok FROM k
), """ + _WRITES % {
    "if_ok": "WHERE (SELECT ok FROM ok)", "and_ok": "AND (SELECT ok FROM ok)", "on_conflict": "",
    "ok": "(SELECT ok FROM ok)", "pending": leases.PENDING, "all": ALL_EVENTS,
}
_CONVERSATION_COLUMNS = 15  # _RESOLVE's columns that make a RawConversation
_UNIQUE_VIOLATION = "23505"  # SQLSTATE
KNOWN_MAX = 4096  # conversations a node's writer remembers
COLD_BATCHES = 32  # batches a conversation someone else wrote is not remembered for (Known)


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


class Known:
    """The conversations this node's writer wrote last, as its writes left them: guesses,
    which ``_WRITE_IF_UNCHANGED`` checks against the database before it writes. The oldest
    are forgotten past ``limit``. A conversation found changed by someone else (another
    node, an operator's read mark) is not remembered for the next ``cold`` batches: while
    two nodes take turns writing it, each guess would cost a wasted round trip."""

    def __init__(self, limit: int = KNOWN_MAX, cold: int = COLD_BATCHES) -> None:
        self._limit = limit
        self._cold_batches = cold
        self._conversations: dict[str, RawConversation] = {}  # least recently written first
        self._latest: dict[str, str] = {}  # visitor id -> their conversation's
        self._cold: dict[str, int] = {}  # conversation id -> the batch from which it is remembered again
        self._batches = 0

    def target(self, item: MessageItem) -> RawConversation | None:
        cid = self._latest.get(item.visitor_id) if item.visitor_id is not None else item.conversation_id
        return self._conversations.get(cid) if cid is not None else None

    def check(self, conversation: RawConversation) -> None:
        """``conversation`` as just read under its lock: if it is not as remembered, someone
        else wrote it."""
        known = self._conversations.get(conversation.id)
        if known is not None and _state(known) != _state(conversation):
            self.forget(conversation.id)
            if len(self._cold) >= self._limit:
                self._cold.clear()
            self._cold[conversation.id] = self._batches + self._cold_batches

    def remember(self, found: dict[str, RawConversation]) -> None:
        self._batches += 1
        for conversation in found.values():
            cold = self._cold.get(conversation.id)
            if cold is not None:
                if self._batches < cold:
                    continue
                del self._cold[conversation.id]
            self._conversations.pop(conversation.id, None)
            self._conversations[conversation.id] = conversation
            self._latest[conversation.visitor_id] = conversation.id
        while len(self._conversations) > self._limit:
            self.forget(next(iter(self._conversations)))

    def forget(self, conversation_id: str) -> None:
        conversation = self._conversations.pop(conversation_id, None)
        if conversation is not None and self._latest.get(conversation.visitor_id) == conversation_id:
            del self._latest[conversation.visitor_id]


@dataclass
class _Row:
    message: tuple[Any, ...]
    event: tuple[Any, ...]


async def store_messages(
    raw: Any, items: list[MessageItem], memo: dict[str, Any], one_statement: bool
) -> list[Done] | None:
    """Store the leading ``items`` whose conversation is open and theirs to write. ``one_statement``
    (no transaction is open): all of them in one statement, or nothing and None."""
    known = memo.get("pg_chat")
    if known is None:
        known = memo["pg_chat"] = Known()
    if one_statement:
        return await _store_if_unchanged(raw, items, known)
    rows = await raw.fetch(
        _RESOLVE, [i.visitor_id for i in items], [i.conversation_id for i in items], [i.client_id for i in items]
    )
    found: dict[str, RawConversation] = {}
    targets: list[tuple[RawConversation, tuple[int, datetime] | None]] = []
    for item, row in zip(items, rows):
        if row["id"] is None or row["status"] != conversations.OPEN:
            gone = known.target(item)  # remembered open (or at all): closed or deleted since
            if gone is not None:
                known.forget(gone.id)
            break  # a first message, or a closed conversation: the Core path
        if item.site_ids is not None and row["site_id"] not in item.site_ids:
            break  # the Core path refuses it as not found
        conversation = found.get(row["id"])
        if conversation is None:
            conversation = found[row["id"]] = RawConversation(*list(row.values())[:_CONVERSATION_COLUMNS])
            known.check(conversation)
        existing = row["existing_seq"]
        targets.append((conversation, None if existing is None else (existing, row["existing_at"])))
    now = utcnow()
    done, new = _plan(items, targets, now)
    if new:
        await _write(raw, _WRITE, found, done, new, now, ())
    known.remember(found)  # a rolled-back batch drops the writer's memo (store/pg_writer.py)
    return done


async def _store_if_unchanged(raw: Any, items: list[MessageItem], known: Known) -> list[Done] | None:
    found: dict[str, RawConversation] = {}  # copies: the remembered ones change only once written
    targets: list[tuple[RawConversation, None]] = []
    for item in items:
        conversation = known.target(item)
        if conversation is None or conversation.status != conversations.OPEN:
            return None
        if item.site_ids is not None and conversation.site_id not in item.site_ids:
            return None
        if conversation.id not in found:
            found[conversation.id] = replace(conversation)
        targets.append((found[conversation.id], None))
    assumed = [_state(c) for c in found.values()]  # before _plan moves the copies on
    now = utcnow()
    done, new = _plan(items, targets, now)
    try:
        written = await _write(raw, _WRITE_IF_UNCHANGED, found, done, new, now, list(zip(*assumed)))
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == _UNIQUE_VIOLATION:
            return None  # a re-send: the locked way finds the message stored and acks it
        raise
    if not written:
        return None  # the locked way tells which conversation changed (Known.check)
    known.remember(found)
    return done


def _state(c: RawConversation) -> tuple[Any, ...]:
    """What ``_WRITE_IF_UNCHANGED`` checks of a remembered conversation ($17-$27)."""
    return (c.last_seq, c.unread_count, c.read_seq, c.assignee_id, c.closed_at, c.status, c.site_name, c.visitor_name,
            c.visitor_email, c.visitor_phone, c.assignee_name)


def _plan(
    items: list[MessageItem], targets: list[tuple[RawConversation, tuple[int, datetime] | None]], now: datetime
) -> tuple[list[Done], list[tuple[int, _Row]]]:
    """The acks of the leading ``items`` (one target each: the conversation, and a message
    stored already under the item's client id) and the rows of the new messages; the
    targets' conversations are moved on (seq, unread count) as the messages go in."""
    bases: dict[str, dict[str, Any]] = {}  # each conversation's summary, made once a batch
    done: list[Done] = []
    new: list[tuple[int, _Row]] = []  # (index in done, its rows)
    acked: dict[tuple[str, str], Any] = {}  # a client id twice in one batch: one message
    # One time for the batch's messages (they are committed together), formatted once, as
    # on SQLite (services/chat_batch.py): ISO formatting per message was ~5 % of a node's CPU.
    at_iso = iso(now)
    for item, (conversation, existing) in zip(items, targets):
        base = bases.get(conversation.id)
        if base is None:
            base = bases[conversation.id] = conversation.summary(now, None)
        key = (conversation.id, item.client_id)
        if existing is not None:  # a re-send: same ack, nothing new
            done.append(Done(item.ack(item.client_id, conversation.id, existing[0], iso(existing[1])), []))
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
        summary = {**base, "last_message_preview": item.preview, "unread_count": conversation.unread_count,
                   "last_seq": seq}
        payload = {"conversation_id": conversation.id, "message": message, "conversation": summary}
        acked[key] = item.ack(item.client_id, conversation.id, seq, at_iso)
        new.append((len(done), _Row(
            (conversation.id, seq, item.client_id, item.author_kind, item.author_id, item.author_name, item.body),
            (events.MESSAGE_CREATED, conversation.site_id, conversation.id, payload),
        )))
        done.append(Done(acked[key], []))
    return done, new


async def _write(
    raw: Any, sql: str, found: dict[str, RawConversation], done: list[Done], new: list[tuple[int, _Row]],
    now: datetime, assumed: list[tuple[Any, ...]],
) -> bool:
    """Run ``sql`` (``_WRITE``, or ``_WRITE_IF_UNCHANGED`` with the ``assumed`` states of
    ``found``'s conversations, in its order, as one column each); False: nothing written."""
    messages = list(zip(*(r.message for _, r in new)))
    types, site_ids, conversation_ids, payloads = zip(*(r.event for _, r in new))
    # Each conversation's last seq and preview; in the order of ``found`` (of the batch's
    # first message into each), as ``assumed`` is.
    latest: dict[str, tuple[int, str]] = {}
    for _, r in new:
        latest[r.message[0]] = (r.message[1], r.event[3]["conversation"]["last_message_preview"])
    # The batch's one time goes once ($8), not as an array of copies: each timestamp in an
    # array is one more conversion in the driver, per message and per conversation.
    result = await raw.fetchrow(
        sql, *messages, now,
        list(latest), [v[0] for v in latest.values()], [v[1] for v in latest.values()],
        [found[c].unread_count for c in latest],
        list(types), list(site_ids), list(conversation_ids),
        [json_text.dumps(p) for p in payloads],
        *(list(column) for column in assumed),
    )
    if not result["ok"]:
        return False
    if result["inserted"] != len(new):
        raise ResendRaced("a message's client id was stored meanwhile: the writer runs the batch one by one")
    # Event ids were taken in row order (one sequence, rows inserted in array order).
    for event_id, (index, r) in zip(result["ids"], new):
        done[index] = Done(done[index].result, [StoredEvent(event_id, *r.event)], queued=True)
    if result["deliveries"]:
        first = new[0][0]
        done[first] = Done(done[first].result, done[first].events, queued=True, deliveries=result["deliveries"])
    return True
