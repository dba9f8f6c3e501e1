"""Queries for the emails job table (sent by workers/email.py through leases)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from . import leases
from .db import utcnow
from .schema import emails


@dataclass(frozen=True)
class EmailJob:
    """Everything one sending attempt needs."""

    id: int
    message_id: str
    to_address: str
    template: str
    lang: str
    context: dict[str, Any]
    reply_to: str | None
    created_at: datetime


def insert_email(
    conn: Connection, *, message_id: str, to_address: str, template: str, lang: str, context: dict[str, Any],
    reply_to: str | None, site_id: int | None, conversation_id: str | None,
) -> int:
    now = utcnow()
    return conn.execute(
        insert(emails)
        .values(
            message_id=message_id, to_address=to_address, template=template, lang=lang,
            context=json.dumps(context, ensure_ascii=False, separators=(",", ":")), reply_to=reply_to,
            site_id=site_id, conversation_id=conversation_id, status=leases.PENDING, attempts=0, claims=0,
            next_attempt_at=now, created_at=now,
        )
        .returning(emails.c.id)
    ).scalar_one()


def email_jobs(conn: Connection, ids: list[int]) -> dict[int, EmailJob]:
    rows = conn.execute(select(emails).where(emails.c.id.in_(ids)))
    return {
        r.id: EmailJob(r.id, r.message_id, r.to_address, r.template, r.lang, json.loads(r.context), r.reply_to, r.created_at)
        for r in rows
    }


def list_emails(conn: Connection, *, conversation_id: str | None = None, site_id: int | None = None) -> list[dict[str, Any]]:
    query = select(emails).order_by(emails.c.id)
    if conversation_id is not None:
        query = query.where(emails.c.conversation_id == conversation_id)
    if site_id is not None:
        query = query.where(emails.c.site_id == site_id)
    return [dict(r._mapping) for r in conn.execute(query)]
