"""Queries for webhook endpoints and their deliveries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import bindparam, insert, literal, or_, select
from sqlalchemy.engine import Connection

from . import leases
from .conversations import sqlite_time
from .db import utcnow
from .outbox import StoredEvent, event_from_row
from .schema import Timestamp, events, sites, webhook_deliveries, webhook_endpoints, webhook_subscriptions

ALL_EVENTS = "*"


@dataclass(frozen=True)
class Endpoint:
    id: int
    site_id: int
    url: str
    secret: str
    description: str | None
    enabled: bool
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryJob:
    """Everything one delivery attempt needs."""

    id: int
    url: str
    secret: str
    enabled: bool
    site_key: str
    event: StoredEvent
    event_created_at: datetime


def insert_endpoint(
    conn: Connection, *, site_id: int, url: str, secret: str, description: str | None, event_types: Iterable[str]
) -> Endpoint:
    endpoint_id = conn.execute(
        insert(webhook_endpoints)
        .values(site_id=site_id, url=url, secret=secret, description=description, enabled=True, created_at=utcnow())
        .returning(webhook_endpoints.c.id)
    ).scalar_one()
    types = tuple(dict.fromkeys(event_types)) or (ALL_EVENTS,)
    conn.execute(
        insert(webhook_subscriptions),
        [{"endpoint_id": endpoint_id, "event_type": t, "site_id": site_id} for t in types],
    )
    return Endpoint(endpoint_id, site_id, url, secret, description, True, types)


def list_endpoints(conn: Connection, site_id: int | None = None) -> list[Endpoint]:
    query = select(webhook_endpoints).order_by(webhook_endpoints.c.id)
    if site_id is not None:
        query = query.where(webhook_endpoints.c.site_id == site_id)
    rows = conn.execute(query).all()
    types: dict[int, list[str]] = {}
    for sub in conn.execute(select(webhook_subscriptions).order_by(webhook_subscriptions.c.event_type)):
        types.setdefault(sub.endpoint_id, []).append(sub.event_type)
    return [
        Endpoint(r.id, r.site_id, r.url, r.secret, r.description, r.enabled, tuple(types.get(r.id, ())))
        for r in rows
    ]


# Built once: it runs in every write batch that appended events.
_QUEUE = insert(webhook_deliveries).from_select(
    ["endpoint_id", "event_id", "status", "attempts", "claims", "next_attempt_at", "created_at"],
    select(
        webhook_subscriptions.c.endpoint_id,
        events.c.id,
        literal(leases.PENDING),
        literal(0),
        literal(0),
        bindparam("now", type_=Timestamp),
        bindparam("now", type_=Timestamp),
    )
    .select_from(events)
    .join(
        webhook_subscriptions,
        (webhook_subscriptions.c.site_id == events.c.site_id)
        & or_(webhook_subscriptions.c.event_type == events.c.type, webhook_subscriptions.c.event_type == ALL_EVENTS),
    )
    .join(webhook_endpoints, webhook_endpoints.c.id == webhook_subscriptions.c.endpoint_id)
    .where(events.c.id.in_(bindparam("ids", expanding=True)) & webhook_endpoints.c.enabled)
    .distinct(),  # never a duplicate key: it would fail the whole write batch
)


def queue_deliveries(conn: Connection, stored: list[StoredEvent]) -> int:
    """A delivery per (subscribed endpoint, event), in the events' own transaction:
    an event that committed has its deliveries, whatever happens next. Returns how many."""
    ids = [e.id for e in stored if e.site_id is not None]
    if not ids:
        return 0
    if conn.dialect.name == "sqlite":  # the hot path: on the driver, fixed text (issue 20)
        raw = conn.connection.dbapi_connection
        site_ids = {e.site_id for e in stored if e.site_id is not None}
        if len(site_ids) == 1 and raw.execute(_ANY_SUBSCRIPTION_RAW, tuple(site_ids)).fetchone() is None:  # type: ignore[union-attr]
            return 0
        return raw.execute(_QUEUE_RAW, (json.dumps(ids), sqlite_time(utcnow()))).rowcount  # type: ignore[union-attr]
    return conn.execute(_QUEUE, {"ids": ids, "now": utcnow()}).rowcount


# Most sites have no webhook: one index probe settles a one-site batch. A lone message is
# committed on a CPU that has idled since the last one (at 100 msg/s), where the probe took
# 22 µs and the insert below 99 µs with nothing to insert (20 and 2 µs back to back).
# Read in the batch's write transaction: no subscription can change before its commit.
_ANY_SUBSCRIPTION_RAW = "SELECT 1 FROM webhook_subscriptions WHERE site_id = ? LIMIT 1"

# ``_QUEUE`` for SQLite on the stdlib driver. SQLAlchemy compiles ``_QUEUE`` afresh for
# each number of ids (an expanding IN): with a batch's chat messages written by a few
# statements, that compile was ~16 % of the writer thread's time (py-spy, issue 20). The
# ids go in as one JSON list, so the text is fixed and sqlite3 prepares it once.
_QUEUE_RAW = (
    "INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts, claims, next_attempt_at, created_at) "
    f"SELECT DISTINCT s.endpoint_id, e.id, '{leases.PENDING}', 0, 0, ?2, ?2 FROM events e "
    "JOIN webhook_subscriptions s ON s.site_id = e.site_id "
    f"AND (s.event_type = e.type OR s.event_type = '{ALL_EVENTS}') "
    "JOIN webhook_endpoints w ON w.id = s.endpoint_id "
    "WHERE e.id IN (SELECT j.value FROM json_each(?1) j) AND w.enabled"
)


def delivery_jobs(conn: Connection, delivery_ids: list[int]) -> dict[int, DeliveryJob]:
    rows = conn.execute(
        select(
            webhook_deliveries.c.id,
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret,
            webhook_endpoints.c.enabled,
            sites.c.key.label("site_key"),
            events.c.id.label("event_id"),
            events.c.type,
            events.c.site_id,
            events.c.conversation_id,
            events.c.payload,
            events.c.created_at,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .join(sites, sites.c.id == webhook_endpoints.c.site_id)
        .join(events, events.c.id == webhook_deliveries.c.event_id)
        .where(webhook_deliveries.c.id.in_(delivery_ids))
    )
    jobs = {}
    for row in rows:
        event = event_from_row(row, row.event_id)
        jobs[row.id] = DeliveryJob(row.id, row.url, row.secret, row.enabled, row.site_key, event, row.created_at)
    return jobs


def list_deliveries(conn: Connection, endpoint_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id).order_by(webhook_deliveries.c.id)
    )
    return [dict(r._mapping) for r in rows]
