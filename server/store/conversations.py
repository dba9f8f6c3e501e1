"""Queries for conversations and their messages (one aggregate: messages live in one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, desc, insert, select, update
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .schema import conversations, messages, operators, sites, visitors


@dataclass(frozen=True)
class Message:
    seq: int
    client_id: str
    author_kind: str
    author_name: str | None
    body: str
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "client_id": self.client_id,
            "author": {"kind": self.author_kind, "name": self.author_name},
            "body": self.body,
            "created_at": iso(self.created_at),
        }


def _message(row: Any) -> Message:
    return Message(row.seq, row.client_id, row.author_kind, row.author_name, row.body, row.created_at)


def insert_conversation(conn: Connection, *, id: str, site_id: int, visitor_id: str) -> None:
    conn.execute(
        insert(conversations).values(
            id=id, site_id=site_id, visitor_id=visitor_id, status="open", created_at=utcnow(), unread_count=0, last_seq=0
        )
    )


# The statements on the path of every chat message are built once: building a SQLAlchemy
# expression costs several times more CPU than SQLite takes to run it (measured).
_CONVERSATION = select(conversations).where(conversations.c.id == bindparam("cid"))
# A visitor has one thread: their latest conversation, open or closed (writing into a
# closed one reopens it: services/conversations.py).
_LATEST = (
    select(conversations)
    .where(conversations.c.visitor_id == bindparam("vid"))
    .order_by(desc(conversations.c.created_at))
    .limit(1)
)
_NEXT_SEQ = (
    update(conversations)
    .where(conversations.c.id == bindparam("cid"))
    .values(last_seq=conversations.c.last_seq + 1)
    .returning(conversations.c.last_seq)
)
_BY_CLIENT_ID = select(messages).where(
    and_(messages.c.conversation_id == bindparam("cid"), messages.c.client_id == bindparam("client"))
)
_INSERT_MESSAGE = insert(messages)
_AFTER_MESSAGE = (
    update(conversations)
    .where(conversations.c.id == bindparam("cid"))
    .values(
        last_message_at=bindparam("at"), last_message_preview=bindparam("preview"), unread_count=bindparam("unread")
    )
)


def get_conversation_row(conn: Connection, conversation_id: str) -> Any:
    return conn.execute(_CONVERSATION, {"cid": conversation_id}).first()


def latest_conversation(conn: Connection, visitor_id: str) -> Any:
    return conn.execute(_LATEST, {"vid": visitor_id}).first()


def next_seq(conn: Connection, conversation_id: str) -> int:
    """Take the conversation's next seq; the row update serialises concurrent writers."""
    return conn.execute(_NEXT_SEQ, {"cid": conversation_id}).scalar_one()


def find_message_by_client_id(conn: Connection, conversation_id: str, client_id: str) -> Message | None:
    row = conn.execute(_BY_CLIENT_ID, {"cid": conversation_id, "client": client_id}).first()
    return _message(row) if row else None


def insert_message(conn: Connection, **values: Any) -> Message:
    values.setdefault("created_at", utcnow())
    values.setdefault("author_id", None)
    values.setdefault("author_name", None)
    conn.execute(_INSERT_MESSAGE, values)
    return Message(
        values["seq"], values["client_id"], values["author_kind"], values["author_name"], values["body"],
        values["created_at"],
    )


def record_last_message(conn: Connection, conversation_id: str, *, at: Any, preview: str, unread: int) -> None:
    conn.execute(_AFTER_MESSAGE, {"cid": conversation_id, "at": at, "preview": preview, "unread": unread})


def update_conversation(conn: Connection, conversation_id: str, **values: Any) -> None:
    conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(**values))


def list_messages(conn: Connection, conversation_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[Message]:
    rows = conn.execute(
        select(messages)
        .where(and_(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq))
        .order_by(messages.c.seq)
        .limit(limit)
    )
    return [_message(r) for r in rows]


def _summary_query() -> Any:
    return select(
        conversations,
        sites.c.name.label("site_name"),
        visitors.c.name.label("visitor_name"),
        visitors.c.email.label("visitor_email"),
        visitors.c.phone.label("visitor_phone"),
        operators.c.name.label("assignee_name"),
    ).select_from(
        conversations.join(sites, conversations.c.site_id == sites.c.id)
        .join(visitors, conversations.c.visitor_id == visitors.c.id)
        .outerjoin(operators, conversations.c.assignee_id == operators.c.id)
    )


def summary_from_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": {"id": row.site_id, "name": row.site_name},
        "visitor": {"id": row.visitor_id, "name": row.visitor_name, "email": row.visitor_email, "phone": row.visitor_phone},
        "status": row.status,
        "created_at": iso(row.created_at),
        "last_message_at": iso(row.last_message_at),
        "last_message_preview": row.last_message_preview,
        "unread_count": row.unread_count,
        "last_seq": row.last_seq,
        "read_seq": row.read_seq,
        "assignee": {"id": row.assignee_id, "name": row.assignee_name} if row.assignee_id is not None else None,
        "closed_at": iso(row.closed_at),
    }


_SUMMARY = _summary_query().where(conversations.c.id == bindparam("cid"))


def get_summary(conn: Connection, conversation_id: str) -> dict[str, Any] | None:
    row = conn.execute(_SUMMARY, {"cid": conversation_id}).first()
    return summary_from_row(row) if row else None


def list_summaries(conn: Connection, *, limit: int = 500, site_ids: Any = None) -> list[dict[str, Any]]:
    """Newest first; ``site_ids``: only those sites' (an operator limited to some sites)."""
    query = _summary_query()
    if site_ids is not None:
        query = query.where(conversations.c.site_id.in_(sorted(site_ids)))
    rows = conn.execute(
        query.order_by(desc(conversations.c.last_message_at), desc(conversations.c.created_at)).limit(limit)
    )
    return [summary_from_row(r) for r in rows]


def list_summaries_for_visitor(conn: Connection, visitor_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(_summary_query().where(conversations.c.visitor_id == visitor_id))
    return [summary_from_row(r) for r in rows]


# --- The chat message's statements on the stdlib sqlite3 driver (SQLite only).
# SQLAlchemy Core's execute path costs ~3.5x what SQLite needs to run the same statements
# (issue 20), in a thread holding the GIL the event loop needs. sqlite3 prepares each of
# these once (its statement cache is keyed by the text). Four statements a message
# instead of seven: the conversation and everything its summary shows in one read, the
# message inserted unless its client id is there (a re-send), one update of the
# conversation (seq, unread, preview) and the event; the summary is built here.

_SUMMARY_COLUMNS = (
    "SELECT c.id, c.site_id, c.visitor_id, c.status, c.created_at, c.unread_count, c.last_seq, "
    "s.name, v.name, v.email, v.phone, c.read_seq, c.assignee_id, a.name, c.closed_at FROM conversations c "
    "JOIN sites s ON s.id = c.site_id JOIN visitors v ON v.id = c.visitor_id "
    "LEFT JOIN operators a ON a.id = c.assignee_id "
)
_RAW_BY_ID = _SUMMARY_COLUMNS + "WHERE c.id = ?"
# The visitor's one thread: their latest conversation, open or closed (as ``_LATEST``).
_RAW_LATEST = _SUMMARY_COLUMNS + "WHERE c.visitor_id = ? ORDER BY c.created_at DESC LIMIT 1"
_RAW_INSERT_MESSAGE = (
    "INSERT INTO messages (conversation_id, seq, client_id, author_kind, author_id, author_name, body, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, client_id) DO NOTHING"
)
_RAW_EXISTING = "SELECT seq, created_at FROM messages WHERE conversation_id = ? AND client_id = ?"
_RAW_AFTER_MESSAGE = (
    "UPDATE conversations SET last_seq = ?, last_message_at = ?, last_message_preview = ?, unread_count = ? "
    "WHERE id = ?"
)


def sqlite_time(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite (naive UTC text), so both paths agree.
    (``%`` formatting: 1.0 µs against ``strftime``'s 3.9, a few times a chat message.)"""
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond
    )


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class RawConversation:
    """A conversation row with what its summary shows, read on the driver."""

    id: str
    site_id: int
    visitor_id: str
    status: str
    created_at: Any
    unread_count: int
    last_seq: int
    site_name: str
    visitor_name: str | None
    visitor_email: str | None
    visitor_phone: str | None
    read_seq: int
    assignee_id: int | None
    assignee_name: str | None
    closed_at: Any

    def summary(self, last_message_at: datetime | None, preview: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": {"id": self.site_id, "name": self.site_name},
            "visitor": {"id": self.visitor_id, "name": self.visitor_name, "email": self.visitor_email,
                        "phone": self.visitor_phone},
            "status": self.status,
            "created_at": iso(_parse_time(self.created_at)),
            "last_message_at": iso(last_message_at),
            "last_message_preview": preview,
            "unread_count": self.unread_count,
            "last_seq": self.last_seq,
            "read_seq": self.read_seq,
            "assignee": {"id": self.assignee_id, "name": self.assignee_name} if self.assignee_id is not None else None,
            "closed_at": iso(_parse_time(self.closed_at)),
        }


def raw_conversation(raw: Any, conversation_id: str) -> RawConversation | None:
    row = raw.execute(_RAW_BY_ID, (conversation_id,)).fetchone()
    return RawConversation(*row) if row else None


def raw_latest_conversation(raw: Any, visitor_id: str) -> RawConversation | None:
    row = raw.execute(_RAW_LATEST, (visitor_id,)).fetchone()
    return RawConversation(*row) if row else None


def raw_insert_message(raw: Any, conversation: RawConversation, message: Message, author_id: str | None) -> bool:
    """Insert the conversation's next message; False if its client id is there already."""
    cursor = raw.execute(_RAW_INSERT_MESSAGE, (
        conversation.id, message.seq, message.client_id, message.author_kind, author_id, message.author_name,
        message.body, sqlite_time(message.created_at),
    ))
    return cursor.rowcount == 1


def raw_existing_message(raw: Any, conversation_id: str, client_id: str) -> tuple[int, datetime | None] | None:
    row = raw.execute(_RAW_EXISTING, (conversation_id, client_id)).fetchone()
    return (row[0], _parse_time(row[1])) if row else None


def raw_record_last_message(raw: Any, conversation: RawConversation, *, at: datetime, preview: str) -> None:
    raw.execute(_RAW_AFTER_MESSAGE, (
        conversation.last_seq, sqlite_time(at), preview, conversation.unread_count, conversation.id,
    ))
