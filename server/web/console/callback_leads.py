"""The lead's card on each row of the callback queue: who the person is (contact, place,
language and zone, visits) and every conversation of theirs, each one click from the
queue (``/console/#c=<id>``), for a callback whether or not its visitor ever chatted.
Read in one go for the rows shown (bounded: the first ``MAX_CARDS``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from ...locales import format_datetime
from ...store import leads as lead_store
from ...store.callbacks import Callback

MAX_CARDS = 100  # rows past this show the conversation link alone


def _when(lang: str, value: str | None) -> str | None:
    return format_datetime(lang, datetime.fromisoformat(value)) if value else None


def read_cards(conn: Connection, found: list[Callback], lang: str) -> dict[str, dict[str, Any]]:
    """visitor id -> what the card shows (the lead followed through merges)."""
    cards: dict[str, dict[str, Any]] = {}
    for callback in found:
        if callback.visitor_id in cards or len(cards) >= MAX_CARDS:
            continue
        row = lead_store.lead_of_visitor(conn, callback.visitor_id)
        while row is not None and row.merged_into:
            row = lead_store.get_lead_row(conn, row.merged_into)
        if row is None:
            continue
        lead = lead_store.lead_from_row(row)
        cards[callback.visitor_id] = {
            "name": lead["name"], "email": lead["email"], "phone": lead["phone"], "status": lead["status"],
            "place": ", ".join(v for v in (lead["city"], lead["region"], lead["country"]) if v) or None,
            "language": lead["language"], "timezone": lead["timezone"], "visits": lead["visits"],
            "first_seen": _when(lang, lead["first_seen_at"]), "last_seen": _when(lang, lead["last_seen_at"]),
            "conversations": [
                {"id": c["id"], "when": _when(lang, c["created_at"]), "preview": c["last_message_preview"]}
                for c in lead_store.lead_conversations(conn, row.id)[:10]
            ],
        }
    return cards
