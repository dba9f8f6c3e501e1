"""Callback reminders: when a callback falls due, the consoles hear ``callback.due``, once.

A leased worker (workers/leased.py) on every node claims due reminders. Sending one is
a write: the reminder row is marked done *while its lease is still ours* and the event is
appended in the same transaction (through the group writer, so it is published on
commit). A node that dies holding a claim sent nothing (its lease expires and another
node sends it); a node that dies after that commit has marked it done (nobody sends it
again). A reminder whose callback was closed or moved meanwhile is dropped silently.
With email set up, the same transaction queues the email reminder (``email_reminder``),
so the email too goes out once across nodes (the email worker is leased as well).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Settings
from ..locales import DEFAULT, format_datetime
from ..metrics import Metrics
from ..services import callback_assignment, callback_words, events, phones
from ..services.email_flows import Mail
from ..services.emails import queue_email
from ..store import callbacks as store
from ..store import sites as site_store
from ..store.callbacks import Callback
from ..store.db import Database, utcnow
from ..store.leases import DONE, Claim
from ..store.schema import callback_reminders
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from .leased import LeasedWorker


def email_reminder(tx: Tx, callback: Callback, mail: Mail | None) -> None:
    """Queue the email reminder (when email is set up) in the transaction that marks the
    reminder sent, so it too goes out once: to the assigned operator, or to every active
    operator of the site while nobody is assigned (services/callback_assignment.py). Each
    in their console language, the time in their words and the site's zone."""
    if mail is None:
        return
    site = site_store.get_site(tx.conn, callback.site_id)
    if site is None:
        return
    queue_url = f"{mail.console_url}callbacks#cb-{callback.id}" if mail.console_url else None
    for operator in callback_assignment.reminder_recipients(tx.conn, callback):
        lang = operator.language or site.language or DEFAULT
        queue_email(
            tx, to=operator.email, template="callback_due", lang=lang, site_id=site.id,
            conversation_id=callback.conversation_id, context=_words(callback, site, lang, queue_url, operator.id),
        )


def _words(callback: Callback, site: Site, lang: str, queue_url: str | None, operator_id: int) -> dict[str, Any]:
    """The template's values: times in the site's zone, in ``lang``'s words (Babel: Kazakh too)."""
    zone = ZoneInfo(site.callback_tz)
    city = callback_words.zone_label(lang, site.callback_tz)
    return {
        "site_name": site.name, "who": callback.name or phones.display(callback.phone), "name": callback.name,
        "phone": callback.phone, "phone_display": phones.display(callback.phone), "note": callback.note,
        "when": f"{format_datetime(lang, callback.due_at, tz=zone)} ({city})",
        # "As soon as possible" (not a retry after "no answer"): say since when they wait.
        "asap": callback.slot_start is None and callback.status == "requested",
        "asked": f"{format_datetime(lang, callback.created_at, tz=zone)} ({city})",
        "assigned": callback.assignee_id == operator_id, "queue_url": queue_url,
    }


class ReminderSender:
    def __init__(self, writer: GroupWriter, owner: str, mail: Mail | None) -> None:
        self._writer = writer
        self._owner = owner
        self._mail = mail

    async def __call__(self, claim: Claim, job: tuple[datetime, Callback] | None) -> tuple[str, dict[str, Any]]:
        if job is None:
            return "gone", {"status": DONE}
        due_at, claimed = job

        def send(tx: Tx) -> bool | None:
            if not store.reminder_sent(tx.conn, claim.id, self._owner, claim.claims):
                return None  # the lease was lost: whoever holds it now sends it
            # Read again in this transaction: closed, moved or given to someone else since the claim?
            callback = store.get_callback(tx.conn, claimed.id) or claimed
            if callback.status not in store.OPEN or callback.due_at != due_at:
                return False
            tx.append_event(
                events.CALLBACK_DUE, {"callback": callback.public()}, site_id=callback.site_id,
                conversation_id=callback.conversation_id,
            )
            email_reminder(tx, callback, self._mail)
            return True

        sent = await self._writer.run(send)
        label = "lease_lost" if sent is None else ("sent" if sent else "stale")
        return label, {"status": DONE, "next_attempt_at": utcnow()}


def reminder_worker(
    db: Database, writer: GroupWriter, settings: Settings, metrics: Metrics, owner: str, mail: Mail | None
) -> LeasedWorker:
    return LeasedWorker(
        "reminders", db, callback_reminders, store.reminder_jobs, ReminderSender(writer, owner, mail), owner=owner,
        lease_seconds=settings.worker_lease_seconds, poll_seconds=settings.worker_poll_seconds, concurrency=8,
        metrics=metrics,
    )
