"""Chat: messages in conversations, stored exactly once, replayable by seq."""

from __future__ import annotations

import asyncio

import uuid
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import NotFound
from ..store import conversations as store
from ..store.conversations import Message
from ..store.db import Database, iso, utcnow
from ..store.operators import Operator
from ..store.outbox import last_event_id
from ..store.writer import GroupWriter, Tx, on_loop
from ..throttle import Throttle
from . import conversations, email_flows, events, fields, rates
from .chat_batch import PREVIEW_CHARS, Ack, MessageJob  # Ack: callers find it here, as ever


async def check_visitor_rate(throttle: Throttle, visitor_id: str, *, per_minute: int) -> None:
    """A visitor's flood is refused (counters in Redis when several nodes share them)."""
    await rates.check_per_minute(throttle, "visitor_messages", visitor_id, per_minute=per_minute, field="body")


def check_message(client_id: Any, body: Any, *, max_chars: int) -> tuple[str, str]:
    clean_body = fields.text(body, "body", max_chars=max_chars)
    assert clean_body is not None
    return fields.client_id(client_id), clean_body


def store_message(
    tx: Tx, conversation: Any, client_id: str, body: str, *, author_kind: str, author_id: str | None,
    author_name: str | None, new_conversation: bool = False,
) -> Ack:
    existing = store.find_message_by_client_id(tx.conn, conversation.id, client_id)
    if existing is not None:  # a re-send: same ack, nothing new
        return Ack(client_id, conversation.id, existing.seq, iso(existing.created_at))
    seq = store.next_seq(tx.conn, conversation.id)
    message = store.insert_message(
        tx.conn, conversation_id=conversation.id, seq=seq, client_id=client_id, author_kind=author_kind,
        author_id=author_id, author_name=author_name, body=body,
    )
    unread = conversation.unread_count + 1 if author_kind == "visitor" else 0
    store.record_last_message(
        tx.conn, conversation.id, at=message.created_at, preview=body[:PREVIEW_CHARS], unread=unread
    )
    summary = store.get_summary(tx.conn, conversation.id)
    if new_conversation:
        tx.append_event(
            events.CONVERSATION_CREATED, {"conversation": summary}, site_id=conversation.site_id,
            conversation_id=conversation.id,
        )
    tx.append_event(
        events.MESSAGE_CREATED,
        {"conversation_id": conversation.id, "message": message.public(), "conversation": summary},
        site_id=conversation.site_id, conversation_id=conversation.id,
    )
    return Ack(client_id, conversation.id, seq, iso(message.created_at))


def _store_message_raw(
    tx: Tx, conversation: store.RawConversation, client_id: str, body: str, *, author_kind: str,
    author_id: str | None, author_name: str | None,
) -> Ack:
    """``_store_message`` for SQLite, on the driver: four statements instead of seven (the
    message path's cost; issue 20). The same rows, event and ack."""
    raw = tx.raw
    message = Message(conversation.last_seq + 1, client_id, author_kind, author_name, body, utcnow())
    if not store.raw_insert_message(raw, conversation, message, author_id):
        existing = store.raw_existing_message(raw, conversation.id, client_id)
        if existing is None:  # not a re-send: let the batch fail and this job run alone
            raise RuntimeError("message insert ignored without an earlier message of that client id")
        return Ack(client_id, conversation.id, existing[0], iso(existing[1]))
    conversation.last_seq = message.seq
    conversation.unread_count = conversation.unread_count + 1 if author_kind == "visitor" else 0
    preview = body[:PREVIEW_CHARS]
    store.raw_record_last_message(raw, conversation, at=message.created_at, preview=preview)
    tx.append_event(
        events.MESSAGE_CREATED,
        {"conversation_id": conversation.id, "message": message.public(),
         "conversation": conversation.summary(message.created_at, preview)},
        site_id=conversation.site_id, conversation_id=conversation.id,
    )
    return Ack(client_id, conversation.id, message.seq, iso(message.created_at))


def queue_visitor_message(
    writer: GroupWriter, site_id: int, visitor_id: str, client_id: str, body: str, *, visitor_name: str | None = None,
    offline_mail: email_flows.Mail | None = None,
) -> asyncio.Future[Ack]:
    """Into the visitor's conversation (a closed one reopens), opening one with their first
    message; with ``offline_mail`` (no operator online) a new conversation is emailed.

    Queued at once, not in a task of its own: a socket's messages are then committed in
    the order they arrived, whatever happens to the tasks that wait for their acks (a
    task cancelled before it ran once let a later message overtake an earlier one).
    """

    def job(tx: Tx) -> Ack:
        if tx.raw is not None:
            latest = store.raw_latest_conversation(tx.raw, visitor_id)
            # The fast path covers an open conversation; a first message (the conversation
            # made) and one into a closed conversation (reopened, with its system line and
            # event) take the Core path below, in the same transaction.
            if latest is not None and latest.status == conversations.OPEN:
                return _store_message_raw(
                    tx, latest, client_id, body, author_kind="visitor", author_id=visitor_id, author_name=visitor_name
                )
        conversation = store.latest_conversation(tx.conn, visitor_id)
        created = conversation is None
        if created:
            conversation_id = uuid.uuid4().hex
            store.insert_conversation(tx.conn, id=conversation_id, site_id=site_id, visitor_id=visitor_id)
            conversation = store.get_conversation_row(tx.conn, conversation_id)
        elif conversation.status == conversations.CLOSED:
            conversation = conversations.reopen_for_visitor(tx, conversation)
        ack = store_message(
            tx, conversation, client_id, body, author_kind="visitor", author_id=visitor_id,
            author_name=visitor_name, new_conversation=created,
        )
        if created and offline_mail is not None:  # nobody online: the operators hear of it by email
            email_flows.offline_message(tx, offline_mail, site_id, conversation.id, body, visitor_name)
        return ack

    # Next to other messages in a batch, written together with them (chat_batch).
    return writer.submit(MessageJob(
        job, client_id, body, "visitor", visitor_id, visitor_name, visitor_id=visitor_id,
    ))


def _check_conversation_id(conversation_id: Any) -> str:
    if not isinstance(conversation_id, str) or len(conversation_id) > 64:
        raise NotFound(field="conversation_id")
    return conversation_id


def _conversation(tx: Tx, conversation_id: str, site_ids: Any = None) -> Any:
    """The conversation, if it exists and is on one of ``site_ids`` (None: any site)."""
    conversation = store.get_conversation_row(tx.conn, conversation_id)
    if conversation is None or not _on_sites(conversation.site_id, site_ids):
        raise NotFound(field="conversation_id")
    return conversation


def _on_sites(site_id: int, site_ids: Any) -> bool:
    # An operator limited to some sites reads and writes only theirs (operator_sites).
    return site_ids is None or site_id in site_ids


def queue_operator_message(
    writer: GroupWriter, operator: Operator, conversation_id: Any, client_id: str, body: str,
    *, mail: email_flows.Mail | None = None,
) -> asyncio.Future[Ack]:
    """Queued at once, like queue_visitor_message (and for the same reason). With ``mail``,
    a reply in a conversation that came through the contact form also goes by email."""
    conversation_id = _check_conversation_id(conversation_id)

    def job(tx: Tx) -> Ack:
        # With mail configured, a reply may also go out by email: the Core path below decides.
        if tx.raw is not None and mail is None:
            found = store.raw_conversation(tx.raw, conversation_id)
            # The same site check as the Core path's (_conversation): not found, not "forbidden".
            if found is None or not _on_sites(found.site_id, operator.site_ids):
                raise NotFound(field="conversation_id")
            return _store_message_raw(
                tx, found, client_id, body, author_kind="operator", author_id=str(operator.id), author_name=operator.name
            )
        conversation = _conversation(tx, conversation_id, operator.site_ids)
        fresh = mail is not None and store.find_message_by_client_id(tx.conn, conversation.id, client_id) is None
        ack = store_message(
            tx, conversation, client_id, body, author_kind="operator", author_id=str(operator.id),
            author_name=operator.name,
        )
        if fresh:
            email_flows.operator_replied(tx, mail, conversation, operator.name, body)  # type: ignore[arg-type]
        return ack

    return writer.submit(MessageJob(
        job, client_id, body, "operator", str(operator.id), operator.name, conversation_id=conversation_id,
        site_ids=operator.site_ids, batchable=mail is None,
    ))


async def mark_read(writer: GroupWriter, conversation_id: Any, site_ids: Any = None) -> None:
    """An operator has read everything so far: unread 0, and read_seq (the visitor's "Seen")."""
    conversation_id = _check_conversation_id(conversation_id)

    @on_loop
    def job(tx: Tx) -> None:
        conversation = _conversation(tx, conversation_id, site_ids)
        if conversation.unread_count or conversation.read_seq < conversation.last_seq:
            read_seq = conversation.last_seq
            store.update_conversation(tx.conn, conversation_id, unread_count=0, read_seq=read_seq)
            summary = store.get_summary(tx.conn, conversation_id)
            tx.append_event(
                events.CONVERSATION_READ, {"conversation": summary, "read_seq": read_seq},
                site_id=conversation.site_id, conversation_id=conversation_id,
            )

    await writer.run(job)


async def messages_after(db: Database, conversation_id: str, after_seq: int, *, limit: int = 1000) -> list[Message]:
    """One page of a conversation after ``after_seq``: a replay reads page after page."""
    return await db.read(lambda conn: store.list_messages(conn, conversation_id, after_seq=after_seq, limit=limit))


async def conversation_messages(db: Database, conversation_id: str, site_ids: Any = None) -> list[Message]:
    def read(conn: Connection) -> list[Message]:
        conversation = store.get_conversation_row(conn, conversation_id)
        if conversation is None or not _on_sites(conversation.site_id, site_ids):
            raise NotFound()
        return store.list_messages(conn, conversation_id)

    return await db.read(read)


async def inbox(db: Database, site_ids: Any = None, *, position: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Conversation summaries, newest first (of ``site_ids`` only, unless None), and the
    event id they are current to (``position``, taken before the read: a relay's
    horizon with several nodes; else the last stored event)."""

    def read(conn: Connection) -> tuple[list[dict[str, Any]], int]:
        # Read the position first: an event committed in between is replayed, not missed.
        current = last_event_id(conn) if position is None else position
        return store.list_summaries(conn, site_ids=site_ids), current

    return await db.read(read)
