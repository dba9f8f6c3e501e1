"""Queries for operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import utcnow
from .schema import operators


@dataclass(frozen=True)
class Operator:
    id: int
    email: str
    name: str
    role: str
    password_hash: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email}


def _operator(row: Any) -> Operator:
    return Operator(row.id, row.email, row.name, row.role, row.password_hash)


async def insert_operator(conn: AsyncConnection, **values: Any) -> Operator:
    result = await conn.execute(insert(operators).values(created_at=utcnow(), **values).returning(operators.c.id))
    return await get_operator(conn, result.scalar_one())  # type: ignore[return-value]


async def get_operator(conn: AsyncConnection, operator_id: int) -> Operator | None:
    row = (await conn.execute(select(operators).where(operators.c.id == operator_id))).first()
    return _operator(row) if row else None


async def get_operator_by_email(conn: AsyncConnection, email: str) -> Operator | None:
    row = (await conn.execute(select(operators).where(operators.c.email == email))).first()
    return _operator(row) if row else None


async def update_password_hash(conn: AsyncConnection, operator_id: int, password_hash: str) -> None:
    from sqlalchemy import update

    await conn.execute(update(operators).where(operators.c.id == operator_id).values(password_hash=password_hash))
