"""Chat messages as writer jobs that can be written together (SQLite's batch path).

A ``MessageJob`` runs alone like any job (its ``alone`` function: the driver path for an
open conversation, SQLAlchemy Core for the rest). When several are next to each other in
a committed batch, the writer hands them all to ``write_together``, which stores them
with a handful of statements for the lot instead of four each (issue 20). Same rows,
events and acks as one by one: seq counted per conversation in submission order, unread
+1 for a visitor's message and 0 after an operator's, a re-send (the same client id in
the conversation, stored earlier or earlier in the batch) acked with the first one's seq
and nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from ..store import message_batch
from ..store.conversations import Message, RawConversation, sqlite_time
from ..store.db import iso, utcnow
from ..store.outbox import EventRow, StoredEvent, insert_events_raw_many
from ..store.writer import Tx
from . import conversations, events, pg_chat

PREVIEW_CHARS = 140


@dataclass(frozen=True)
class Ack:
    client_id: str
    conversation_id: str
    seq: int
    created_at: str | None

    def frame(self) -> dict[str, Any]:
        return {
            "type": "ack", "id": self.client_id, "seq": self.seq,
            "conversation_id": self.conversation_id, "created_at": self.created_at,
        }


@dataclass(frozen=True)
class MessageJob:
    """A chat message for the writer. ``visitor_id``: into that visitor's latest
    conversation; else ``conversation_id`` (an operator's reply, on ``site_ids`` only;
    None: any site). ``batchable`` False: this one always runs alone (a reply that may go
    out by email takes the Core path)."""

    alone: Callable[[Tx], Ack]
    client_id: str
    body: str
    author_kind: str
    author_id: str | None
    author_name: str | None
    visitor_id: str | None = None
    conversation_id: str | None = None
    site_ids: Any = None
    batchable: bool = True
    on_loop: ClassVar[bool] = True  # a few statements: may be written on the event loop (store/writer.py)

    def __call__(self, tx: Tx) -> Ack:
        return self.alone(tx)

    @property
    def pg_bulk(self) -> pg_chat.MessageItem | None:
        """On PostgreSQL the writer stores this with the batch's other messages on the
        driver (services/pg_chat.py, store/pg_writer.py); None: always the Core path."""
        if not self.batchable:
            return None
        return pg_chat.MessageItem(
            self.client_id, self.body, self.body[:PREVIEW_CHARS], self.author_kind, self.author_id,
            self.author_name, Ack, visitor_id=self.visitor_id, conversation_id=self.conversation_id,
            site_ids=self.site_ids,
        )

    @staticmethod
    def run_together(tx: Tx, jobs: list[MessageJob]) -> list[tuple[Ack, list[StoredEvent]]]:
        return write_together(tx, jobs)


def _target(job: MessageJob, found: dict[str, RawConversation], latest: dict[str, str]) -> RawConversation | None:
    """The open conversation the batch path writes ``job`` into; None: it needs its own
    path (a first message, a closed conversation, one not found or on another site)."""
    if not job.batchable:
        return None
    if job.visitor_id is not None:
        conversation = found.get(latest.get(job.visitor_id, ""))
        return conversation if conversation is not None and conversation.status == conversations.OPEN else None
    conversation = found.get(job.conversation_id or "")
    if conversation is None or (job.site_ids is not None and conversation.site_id not in job.site_ids):
        return None
    return conversation


def write_together(tx: Tx, jobs: list[MessageJob]) -> list[tuple[Ack, list[StoredEvent]]]:
    """Store the leading jobs of ``jobs`` that the batch path covers; returns their acks and
    events, in order. Fewer results than jobs: the next job runs alone before the rest."""
    raw = tx.raw
    if raw is None:  # PostgreSQL: one by one
        return []
    found, latest = message_batch.conversations(
        raw, (j.visitor_id for j in jobs if j.visitor_id is not None),
        (j.conversation_id for j in jobs if j.visitor_id is None and j.conversation_id is not None),
    )
    targets: list[RawConversation] = []
    for job in jobs:
        target = _target(job, found, latest)
        if target is None:
            break
        targets.append(target)
    if not targets:
        return []
    stored = message_batch.existing_messages(raw, dict.fromkeys((c.id, j.client_id) for j, c in zip(jobs, targets)))

    acks: dict[tuple[str, str], Ack] = {}
    results: list[Ack] = []
    rows: list[message_batch.MessageRow] = []
    event_rows: list[EventRow] = []
    owners: list[int] = []  # the job (index into results) of each event
    last: dict[str, tuple[RawConversation, Any, str]] = {}
    # One time for the batch's messages (they are committed together): formatted once.
    now = utcnow()
    stamp, at_iso = sqlite_time(now), iso(now)
    for job, conversation in zip(jobs, targets):
        key = (conversation.id, job.client_id)
        ack = acks.get(key)
        if ack is None and key in stored:  # a re-send: the same ack, nothing new
            seq, at = stored[key]
            ack = acks[key] = Ack(job.client_id, conversation.id, seq, iso(at))
        if ack is not None:
            results.append(ack)
            continue
        message = Message(conversation.last_seq + 1, job.client_id, job.author_kind, job.author_name, job.body, now)
        rows.append(message_batch.message_row(
            conversation.id, message.seq, job.client_id, job.author_kind, job.author_id, job.author_name, job.body, stamp,
        ))
        conversation.last_seq = message.seq
        conversation.unread_count = conversation.unread_count + 1 if job.author_kind == "visitor" else 0
        preview = job.body[:PREVIEW_CHARS]
        last[conversation.id] = (conversation, now, preview)
        event_rows.append((
            events.MESSAGE_CREATED,
            {"conversation_id": conversation.id, "message": message.public(),
             "conversation": conversation.summary(now, preview)},
            conversation.site_id, conversation.id,
        ))
        owners.append(len(results))
        ack = acks[key] = Ack(job.client_id, conversation.id, message.seq, at_iso)
        results.append(ack)

    message_batch.insert_messages(raw, rows)
    message_batch.record_last_messages(raw, last.values())
    per_job: list[list[StoredEvent]] = [[] for _ in results]
    for owner, event in zip(owners, insert_events_raw_many(raw, event_rows)):
        per_job[owner].append(event)
    return list(zip(results, per_job))
