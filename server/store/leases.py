"""Leases: how the workers of every node share a job table without doing a job twice.

A job table carries ``schema.lease_columns()``. A worker *claims* due jobs: one UPDATE
that sets it as owner until a deadline and bumps ``claims`` (on PostgreSQL the rows are
picked with ``FOR UPDATE SKIP LOCKED``, so nodes claiming at once take different rows;
on SQLite the single UPDATE is atomic). The claim count is a fencing token: recording
an outcome needs the same owner and count, so a worker whose lease expired and was
taken over cannot overwrite the new owner's result. A claim whose count is ahead of the
recorded attempts by more than one is a takeover: a previous owner never finished.

Times are the nodes' clocks (UTC); leases are long next to normal clock skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.engine import Connection

PENDING = "pending"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class Claim:
    id: int
    claims: int  # the fencing token
    attempts: int  # attempts recorded before this claim

    @property
    def takeover(self) -> bool:
        return self.claims > self.attempts + 1


def due(table: Table, now: datetime) -> Any:
    return (
        (table.c.status == PENDING)
        & (table.c.next_attempt_at <= now)
        & or_(table.c.lease_expires_at.is_(None), table.c.lease_expires_at < now)
    )


def claim(
    conn: Connection, table: Table, *, owner: str, now: datetime, lease_seconds: float, limit: int
) -> list[Claim]:
    """Take up to ``limit`` due jobs for ``owner`` until ``now + lease_seconds``."""
    candidates = (
        select(table.c.id).where(due(table, now)).order_by(table.c.next_attempt_at, table.c.id).limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # A materialised CTE picks the rows once. As an `IN (subquery)` PostgreSQL may run
        # the subquery again per row and claim more than `limit` (a test caught 5 of 3).
        picked = candidates.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        target = table.c.id == picked.c.id
    else:
        target = table.c.id.in_(candidates.scalar_subquery())
    statement = (
        update(table)
        # The due test again: on SQLite the UPDATE is what makes the claim atomic.
        .where(target & due(table, now))
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds), claims=table.c.claims + 1)
        .returning(table.c.id, table.c.claims, table.c.attempts)
    )
    return sorted((Claim(r.id, r.claims, r.attempts) for r in conn.execute(statement)), key=lambda c: c.id)


def finish(conn: Connection, table: Table, job: Claim, *, owner: str, **values: Any) -> bool:
    """Record an attempt's outcome (``values``: status, next_attempt_at, …) and end the lease.

    False if the lease was lost (expired and taken over): nothing is written then.
    """
    result = conn.execute(
        update(table)
        .where((table.c.id == job.id) & (table.c.lease_owner == owner) & (table.c.claims == job.claims))
        .values(lease_owner=None, lease_expires_at=None, attempts=table.c.attempts + 1, **values)
    )
    return result.rowcount == 1


def release(conn: Connection, table: Table, jobs: list[Claim], *, owner: str) -> int:
    """Give back unfinished claims (a clean shutdown), due at once and not counted as taken."""
    released = 0
    for job in jobs:
        result = conn.execute(
            update(table)
            .where((table.c.id == job.id) & (table.c.lease_owner == owner) & (table.c.claims == job.claims))
            .values(lease_owner=None, lease_expires_at=None, claims=table.c.claims - 1)
        )
        released += result.rowcount
    return released


def backlog(conn: Connection, table: Table) -> int:
    """Jobs not yet done (due now or waiting for a retry)."""
    return conn.execute(select(func.count()).select_from(table).where(table.c.status == PENDING)).scalar_one()
