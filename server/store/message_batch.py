"""A batch's chat messages on the stdlib sqlite3 driver, a few statements for all of them.

The writer commits whatever is waiting in one transaction; written one by one, its chat
messages cost four statements each (issue 20: ~160 a batch of 40, each a trip through
the driver while the writer thread holds the GIL the event loop needs). Here the batch's
conversations are read in one statement, its re-sends found in one, and its messages,
conversation updates and events written with one ``executemany`` each. Each statement's
text is fixed (the lists go in as one JSON parameter), so sqlite3 prepares it once.
SQLite only; the caller holds the write transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable

from .conversations import _RAW_AFTER_MESSAGE, _RAW_INSERT_MESSAGE, _SUMMARY_COLUMNS, RawConversation, sqlite_time
from .conversations import _parse_time

# The visitor's one thread is their latest conversation (as ``_RAW_LATEST``), for each visitor.
_LATEST_OF = _SUMMARY_COLUMNS + (
    "WHERE c.id IN (SELECT (SELECT c2.id FROM conversations c2 WHERE c2.visitor_id = j.value "
    "ORDER BY c2.created_at DESC LIMIT 1) FROM json_each(?) j)"
)
_BY_IDS = _SUMMARY_COLUMNS + "WHERE c.id IN (SELECT j.value FROM json_each(?) j)"
# Driven from the list (CROSS JOIN keeps that order): one unique-index lookup per pair.
_EXISTING = (
    "SELECT m.conversation_id, m.client_id, m.seq, m.created_at FROM json_each(?) j CROSS JOIN messages m "
    "WHERE m.conversation_id = json_extract(j.value, '$[0]') AND m.client_id = json_extract(j.value, '$[1]')"
)


def conversations(
    raw: Any, visitor_ids: Iterable[str], conversation_ids: Iterable[str]
) -> tuple[dict[str, RawConversation], dict[str, str]]:
    """The conversations the batch writes to: by id, and each visitor's latest one's id.

    One object per conversation, whichever way it was found, so a visitor's message and an
    operator's reply in the same batch count seq and unread on the same row."""
    found: dict[str, RawConversation] = {}
    latest: dict[str, str] = {}
    visitor_ids = list(dict.fromkeys(visitor_ids))
    if visitor_ids:
        for row in raw.execute(_LATEST_OF, (json.dumps(visitor_ids),)):
            conversation = RawConversation(*row)
            found[conversation.id] = conversation
            latest[conversation.visitor_id] = conversation.id
    wanted = [c for c in dict.fromkeys(conversation_ids) if c not in found]
    if wanted:
        for row in raw.execute(_BY_IDS, (json.dumps(wanted),)):
            found[row[0]] = RawConversation(*row)
    return found, latest


def existing_messages(raw: Any, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, datetime | None]]:
    """Messages already stored under these (conversation id, client id): re-sends."""
    keys = list(keys)
    if not keys:
        return {}
    rows = raw.execute(_EXISTING, (json.dumps(keys),))
    return {(r[0], r[1]): (r[2], _parse_time(r[3])) for r in rows}


MessageRow = tuple[str, int, str, str, "str | None", "str | None", str, str]


def message_row(
    conversation_id: str, seq: int, client_id: str, author_kind: str, author_id: str | None,
    author_name: str | None, body: str, created_at: str,
) -> MessageRow:
    """A messages row; ``created_at`` as ``sqlite_time`` formats it."""
    return (conversation_id, seq, client_id, author_kind, author_id, author_name, body, created_at)


def insert_messages(raw: Any, rows: list[MessageRow]) -> None:
    """Every row is new (re-sends were taken out): one ignored means the batch's picture of
    the table was wrong, and the batch fails (its jobs then run one by one)."""
    if not rows:
        return
    inserted = raw.executemany(_RAW_INSERT_MESSAGE, rows).rowcount
    if inserted != len(rows):
        raise RuntimeError(f"{len(rows) - inserted} of {len(rows)} batched messages were already stored")


def record_last_messages(raw: Any, latest: Iterable[tuple[RawConversation, datetime, str]]) -> None:
    """Each conversation's state after its last message in the batch (seq, unread, preview)."""
    rows = [(c.last_seq, sqlite_time(at), preview, c.unread_count, c.id) for c, at, preview in latest]
    if rows:
        raw.executemany(_RAW_AFTER_MESSAGE, rows)
