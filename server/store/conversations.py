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
