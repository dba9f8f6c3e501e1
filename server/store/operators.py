"""Queries for operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from .db import utcnow
from .schema import operators


@dataclass(frozen=True)
class Operator:
    id: int
    email: str
    name: str
    role: str
    password_hash: str
    language: str | None = None  # chosen in the console; follows them to every device

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email}


def _operator(row: Any) -> Operator:
    return Operator(row.id, row.email, row.name, row.role, row.password_hash, row.language)


def insert_operator(conn: Connection, **values: Any) -> Operator:
    result = conn.execute(insert(operators).values(created_at=utcnow(), **values).returning(operators.c.id))
    return get_operator(conn, result.scalar_one())  # type: ignore[return-value]


def get_operator(conn: Connection, operator_id: int) -> Operator | None:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    return _operator(row) if row else None


def get_operator_by_email(conn: Connection, email: str) -> Operator | None:
    row = conn.execute(select(operators).where(operators.c.email == email)).first()
    return _operator(row) if row else None


def update_language(conn: Connection, operator_id: int, language: str) -> None:
    from sqlalchemy import update

    conn.execute(update(operators).where(operators.c.id == operator_id).values(language=language))


def update_password_hash(conn: Connection, operator_id: int, password_hash: str) -> None:
    from sqlalchemy import update

    conn.execute(update(operators).where(operators.c.id == operator_id).values(password_hash=password_hash))
