"""What operators do to a conversation besides answering: close, reopen, assign or
transfer (with a private note), and private notes.

Every action is one writer job: the change, a thread entry (the system line operators
see: "Anna assigned this to Boris") and its event, in one transaction. Entries and these
events never reach a visitor (workers/relay.py sends visitors messages and read receipts
only): the visitor is not told that a conversation was closed, and when they write into
a closed conversation it reopens (reopen_for_visitor), so a visitor keeps one thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..errors import Invalid, NotFound
from ..store import conversations as store
from ..store import entries as entry_store
from ..store import operators as operator_store
from ..store.db import Database, utcnow
from ..store.entries import Entry
from ..store.operators import Operator
from ..store.writer import GroupWriter, Tx
from . import events, fields

OPEN = "open"
CLOSED = "closed"
MAX_NOTE_CHARS = 5000


def check_conversation_id(conversation_id: Any) -> str:
    if not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= 64:
        raise NotFound(field="conversation_id")
    return conversation_id


def _conversation(tx: Tx, conversation_id: str, operator: Operator | None = None) -> Any:
    """The conversation, if it exists and (given an operator) is on one of their sites."""
    row = store.get_conversation_row(tx.conn, conversation_id)
    if row is None or (operator is not None and not operator.may_see_site(row.site_id)):
        raise NotFound(field="conversation_id")
    return row


def _record(tx: Tx, row: Any, event_type: str, kind: str, *, actor: Operator | None, **values: Any) -> Entry:
    """The thread line and the event, after the change itself."""
    entry = entry_store.insert_entry(
        tx.conn, conversation_id=row.id, kind=kind, after_seq=row.last_seq,
        actor_kind="operator" if actor else "visitor", actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else None, **values,
    )
    summary = store.get_summary(tx.conn, row.id)
    payload: dict[str, Any] = {"conversation": summary, "entry": entry.public()}
    if event_type == events.NOTE_CREATED:
        payload = {"conversation_id": row.id, **payload}
    tx.append_event(event_type, payload, site_id=row.site_id, conversation_id=row.id)
    return entry


async def close(writer: GroupWriter, operator: Operator, conversation_id: Any) -> bool:
    """False if it was closed already (nothing changes, no event)."""
    conversation_id = check_conversation_id(conversation_id)

    def job(tx: Tx) -> bool:
        row = _conversation(tx, conversation_id, operator)
        if row.status == CLOSED:
            return False
        store.update_conversation(tx.conn, row.id, status=CLOSED, closed_at=utcnow())
        _record(tx, row, events.CONVERSATION_CLOSED, entry_store.CLOSED, actor=operator)
        return True

    return await writer.run(job)


async def reopen(writer: GroupWriter, operator: Operator, conversation_id: Any) -> bool:
    """False if it was open already."""
    conversation_id = check_conversation_id(conversation_id)

    def job(tx: Tx) -> bool:
        row = _conversation(tx, conversation_id, operator)
        if row.status != CLOSED:
            return False
        store.update_conversation(tx.conn, row.id, status=OPEN, closed_at=None)
        _record(tx, row, events.CONVERSATION_REOPENED, entry_store.REOPENED, actor=operator)
        return True

    return await writer.run(job)


def reopen_for_visitor(tx: Tx, row: Any) -> Any:
    """A visitor wrote into their closed conversation: it opens again (same thread, same
    assignee), with a system line, before the message is stored. Returns the fresh row."""
    store.update_conversation(tx.conn, row.id, status=OPEN, closed_at=None)
    _record(tx, row, events.CONVERSATION_REOPENED, entry_store.REOPENED, actor=None)
    return store.get_conversation_row(tx.conn, row.id)


def check_assignee(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise Invalid(field="operator_id")
    return value


async def assign(
    writer: GroupWriter, operator: Operator, conversation_id: Any, assignee_id: Any, note: Any = None, *,
    max_chars: int = MAX_NOTE_CHARS,
) -> bool:
    """Assign to an operator (None: nobody). Moving it from one operator to another is a
    transfer, which may carry a private note. False if nothing changed."""
    conversation_id = check_conversation_id(conversation_id)
    target_id = check_assignee(assignee_id)
    body = fields.text(note, "note", max_chars=max_chars, required=False)

    def job(tx: Tx) -> bool:
        row = _conversation(tx, conversation_id, operator)
        target = None
        if target_id is not None:
            target = operator_store.get_operator(tx.conn, target_id)
            if target is None or not target.active or not target.may_see_site(row.site_id):
                raise Invalid(field="operator_id")  # nobody works a conversation they cannot see
        if row.assignee_id == target_id and body is None:
            return False
        store.update_conversation(tx.conn, row.id, assignee_id=target_id)
        if target is None:
            kind = entry_store.UNASSIGNED
        elif row.assignee_id is not None and row.assignee_id != target_id:
            kind = entry_store.TRANSFERRED
        else:
            kind = entry_store.ASSIGNED
        _record(
            tx, row, events.CONVERSATION_ASSIGNED, kind, actor=operator,
            target_id=target.id if target else None, target_name=target.name if target else None, body=body,
        )
        return True

    return await writer.run(job)


async def add_note(
    writer: GroupWriter, operator: Operator, conversation_id: Any, client_id: Any, body: Any, *,
    max_chars: int = MAX_NOTE_CHARS,
) -> Entry:
    """A private note: for operators only. Sent twice with the same client id, stored once."""
    conversation_id = check_conversation_id(conversation_id)
    clean_id = fields.client_id(client_id)
    text = fields.text(body, "body", max_chars=max_chars)

    def job(tx: Tx) -> Entry:
        row = _conversation(tx, conversation_id, operator)
        existing = entry_store.find_by_client_id(tx.conn, row.id, clean_id)
        if existing is not None:
            return existing
        return _record(
            tx, row, events.NOTE_CREATED, entry_store.NOTE, actor=operator, body=text, client_id=clean_id
        )

    return await writer.run(job)


async def thread_entries(db: Database, conversation_id: str) -> list[Entry]:
    return await db.read(lambda conn: entry_store.list_entries(conn, conversation_id))


async def assignable_operators(db: Database) -> list[dict[str, Any]]:
    def read(conn: Connection) -> list[dict[str, Any]]:
        return [{"id": o.id, "name": o.name} for o in operator_store.list_active_operators(conn)]

    return await db.read(read)
