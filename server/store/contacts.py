"""Queries for contact-form submissions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import desc, insert, select
from sqlalchemy.engine import Connection

from .db import iso
from .schema import contact_submissions, operators


@dataclass(frozen=True)
class Submission:
    id: str
    site_id: int
    client_id: str
    visitor_id: str
    conversation_id: str
    name: str | None
    email: str | None
    phone: str | None
    message: str
    language: str
    consent_text: str
    privacy_url: str | None
    consent_at: datetime
    send_copy: bool
    created_at: datetime

    def public(self) -> dict[str, Any]:
        """As events, webhooks and the widget see it (no IP or browser: those are the visitor's)."""
        return {
            "id": self.id, "visitor_id": self.visitor_id,
            "conversation_id": self.conversation_id, "name": self.name, "email": self.email, "phone": self.phone,
            "message": self.message, "language": self.language,
            "consent": {"text": self.consent_text, "privacy_url": self.privacy_url, "given_at": iso(self.consent_at)},
            "created_at": iso(self.created_at),
        }


def _submission(row: Any) -> Submission:
    return Submission(
        row.id, row.site_id, row.client_id, row.visitor_id, row.conversation_id, row.name, row.email, row.phone,
        row.message, row.language, row.consent_text, row.privacy_url, row.consent_at, bool(row.send_copy),
        row.created_at,
    )


def insert_submission(conn: Connection, **values: Any) -> Submission:
    conn.execute(insert(contact_submissions).values(**values))
    return get_submission(conn, values["id"])  # type: ignore[return-value]


def get_submission(conn: Connection, submission_id: str) -> Submission | None:
    row = conn.execute(select(contact_submissions).where(contact_submissions.c.id == submission_id)).first()
    return _submission(row) if row else None


def find_by_client_id(conn: Connection, site_id: int, client_id: str) -> Submission | None:
    row = conn.execute(
        select(contact_submissions).where(
            (contact_submissions.c.site_id == site_id) & (contact_submissions.c.client_id == client_id)
        )
    ).first()
    return _submission(row) if row else None


def latest_with_email(conn: Connection, conversation_id: str) -> Submission | None:
    """The conversation's newest submission that left an email: where replies go by email."""
    row = conn.execute(
        select(contact_submissions)
        .where((contact_submissions.c.conversation_id == conversation_id) & contact_submissions.c.email.is_not(None))
        .order_by(desc(contact_submissions.c.created_at))
        .limit(1)
    ).first()
    return _submission(row) if row else None


def list_submissions(conn: Connection, site_id: int) -> list[Submission]:
    rows = conn.execute(
        select(contact_submissions).where(contact_submissions.c.site_id == site_id).order_by(contact_submissions.c.created_at)
    )
    return [_submission(r) for r in rows]


def operator_recipients(conn: Connection) -> list[tuple[str, str | None]]:
    """(email, console language) of every active operator."""
    rows = conn.execute(select(operators.c.email, operators.c.language).where(operators.c.active).order_by(operators.c.id))
    return [(r.email, r.language) for r in rows]
