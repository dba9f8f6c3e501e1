"""Queries for operators and their console sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from .db import utcnow
from .schema import operator_sessions, operator_sites, operators


@dataclass(frozen=True)
class Operator:
    id: int
    email: str
    name: str
    role: str
    password_hash: str
    language: str | None = None  # chosen in the console; follows them to every device
    active: bool = True
    # The sites they work (operator_sites); None: every site.
    site_ids: frozenset[int] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see_site(self, site_id: int | None) -> bool:
        return self.site_ids is None or site_id in self.site_ids

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email}


@dataclass(frozen=True)
class Session:
    id: int
    operator: Operator


def _operator(row: Any, conn: Connection) -> Operator:
    return Operator(
        row.id, row.email, row.name, row.role, row.password_hash, row.language, bool(row.active),
        get_operator_sites(conn, row.id),
    )


def get_operator_sites(conn: Connection, operator_id: int) -> frozenset[int] | None:
    """The sites an operator is limited to, or None (no rows: every site)."""
    ids = conn.execute(select(operator_sites.c.site_id).where(operator_sites.c.operator_id == operator_id)).scalars()
    found = frozenset(ids)
    return found or None


def set_operator_sites(conn: Connection, operator_id: int, site_ids: frozenset[int] | None) -> None:
    conn.execute(delete(operator_sites).where(operator_sites.c.operator_id == operator_id))
    if site_ids:
        conn.execute(insert(operator_sites), [{"operator_id": operator_id, "site_id": s} for s in sorted(site_ids)])


def list_operators(conn: Connection) -> list[Operator]:
    rows = conn.execute(select(operators).order_by(operators.c.name, operators.c.id)).all()
    limits: dict[int, set[int]] = {}
    for operator_id, site_id in conn.execute(select(operator_sites.c.operator_id, operator_sites.c.site_id)):
        limits.setdefault(operator_id, set()).add(site_id)
    return [
        Operator(r.id, r.email, r.name, r.role, r.password_hash, r.language, bool(r.active),
                 frozenset(limits[r.id]) if r.id in limits else None)
        for r in rows
    ]


def count_active_admins(conn: Connection) -> int:
    rows = conn.execute(select(operators.c.id).where((operators.c.role == "admin") & operators.c.active)).all()
    return len(rows)


def insert_operator(conn: Connection, **values: Any) -> Operator:
    result = conn.execute(insert(operators).values(created_at=utcnow(), **values).returning(operators.c.id))
    return get_operator(conn, result.scalar_one())  # type: ignore[return-value]


def get_operator(conn: Connection, operator_id: int) -> Operator | None:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    return _operator(row, conn) if row else None


def get_operator_by_email(conn: Connection, email: str) -> Operator | None:
    row = conn.execute(select(operators).where(operators.c.email == email)).first()
    return _operator(row, conn) if row else None


def update_language(conn: Connection, operator_id: int, language: str) -> None:
    update_operator(conn, operator_id, language=language)


def update_operator(conn: Connection, operator_id: int, **values: Any) -> None:
    conn.execute(update(operators).where(operators.c.id == operator_id).values(**values))


# Sessions ----------------------------------------------------------------------

def insert_session(conn: Connection, operator_id: int, token_hash: str, expires_at: datetime) -> int:
    now = utcnow()
    # An operator's expired sessions go when they log in again: the table stays small.
    conn.execute(
        delete(operator_sessions).where(
            (operator_sessions.c.operator_id == operator_id) & (operator_sessions.c.expires_at < now)
        )
    )
    result = conn.execute(
        insert(operator_sessions)
        .values(token_hash=token_hash, operator_id=operator_id, created_at=now, expires_at=expires_at)
        .returning(operator_sessions.c.id)
    )
    return int(result.scalar_one())


def find_session(conn: Connection, token_hash: str) -> Session | None:
    """The live session with this token hash (not expired, operator active), or None."""
    row = conn.execute(
        select(operator_sessions.c.id.label("session_id"), operators)
        .join(operators, operators.c.id == operator_sessions.c.operator_id)
        .where(
            (operator_sessions.c.token_hash == token_hash)
            & (operator_sessions.c.expires_at > utcnow())
            & operators.c.active
        )
    ).first()
    return Session(row.session_id, _operator(row, conn)) if row else None


def session_alive(conn: Connection, session_id: int) -> bool:
    row = conn.execute(
        select(operator_sessions.c.id)
        .join(operators, operators.c.id == operator_sessions.c.operator_id)
        .where((operator_sessions.c.id == session_id) & (operator_sessions.c.expires_at > utcnow()) & operators.c.active)
    ).first()
    return row is not None


def delete_session(conn: Connection, token_hash: str) -> Session | None:
    """End one session; returns it (None if it had already ended)."""
    session = find_session(conn, token_hash)
    conn.execute(delete(operator_sessions).where(operator_sessions.c.token_hash == token_hash))
    return session


def delete_sessions(conn: Connection, operator_id: int) -> int:
    """End every session of an operator; returns how many there were."""
    return conn.execute(delete(operator_sessions).where(operator_sessions.c.operator_id == operator_id)).rowcount


def list_active_operators(conn: Connection) -> list[Operator]:
    """Who a conversation can be assigned to."""
    rows = conn.execute(select(operators).where(operators.c.active.is_(True)).order_by(operators.c.name, operators.c.id))
    return [_operator(r, conn) for r in rows]
