"""Callback reminders: when a callback falls due, the consoles hear ``callback.due``, once.

A leased worker (workers/leased.py) on every node claims due reminders. Sending one is
a write: the reminder row is marked done *while its lease is still ours* and the event is
appended in the same transaction (through the group writer, so it is published on
commit). A node that dies holding a claim sent nothing (its lease expires and another
node sends it); a node that dies after that commit has marked it done (nobody sends it
again). A reminder whose callback was closed or moved meanwhile is dropped silently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config import Settings
from ..metrics import Metrics
from ..services import events
from ..store import callbacks as store
from ..store.callbacks import Callback
from ..store.db import Database, utcnow
from ..store.leases import DONE, Claim
from ..store.schema import callback_reminders
from ..store.writer import GroupWriter, Tx
from .leased import LeasedWorker


def email_reminder(tx: Tx, callback: Callback) -> None:
    """Where the email reminder to the assigned operator goes once queued email exists
    (the email issue's ``queue_email(tx, ...)``): queue it here, in the transaction that
    marks the reminder sent, so it too goes out once."""
    del tx, callback


class ReminderSender:
    def __init__(self, writer: GroupWriter, owner: str) -> None:
        self._writer = writer
        self._owner = owner

    async def __call__(self, claim: Claim, job: tuple[datetime, Callback] | None) -> tuple[str, dict[str, Any]]:
        if job is None:
            return "gone", {"status": DONE}
        due_at, callback = job
        still_due = callback.status in store.OPEN and callback.due_at == due_at

        def send(tx: Tx) -> bool:
            if not store.reminder_sent(tx.conn, claim.id, self._owner, claim.claims):
                return False  # the lease was lost: whoever holds it now sends it
            if still_due:
                tx.append_event(
                    events.CALLBACK_DUE, {"callback": callback.public()}, site_id=callback.site_id,
                    conversation_id=callback.conversation_id,
                )
                email_reminder(tx, callback)
            return True

        sent = await self._writer.run(send)
        label = ("sent" if still_due else "stale") if sent else "lease_lost"
        return label, {"status": DONE, "next_attempt_at": utcnow()}


def reminder_worker(db: Database, writer: GroupWriter, settings: Settings, metrics: Metrics, owner: str) -> LeasedWorker:
    return LeasedWorker(
        "reminders", db, callback_reminders, store.reminder_jobs, ReminderSender(writer, owner), owner=owner,
        lease_seconds=settings.worker_lease_seconds, poll_seconds=settings.worker_poll_seconds, concurrency=8,
        metrics=metrics,
    )
