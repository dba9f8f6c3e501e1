"""Queries for leads, the addresses they came from and the pages they saw."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, desc, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .schema import conversations, lead_addresses, leads, page_views, sites, visitors

# The columns a lead's public form carries (everything but bookkeeping).
_FIELDS = (
    "id", "site_id", "name", "email", "phone", "user_id", "status", "ip", "country", "region", "city",
    "browser", "os", "device", "language", "timezone", "referrer", "landing_url", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "current_url", "current_title", "visits", "merged_into",
)
_TIMES = ("first_seen_at", "last_seen_at")
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# What a merge carries over from the absorbed lead where the surviving one has nothing.
MERGED_FIELDS = (
    "name", "email", "phone", "user_id", "ip", "country", "region", "city", "browser", "os", "device",
    "language", "timezone", "referrer", "landing_url", *UTM, "current_url", "current_title",
)


def lead_from_row(row: Any) -> dict[str, Any]:
    lead = {name: getattr(row, name) for name in _FIELDS}
    lead.update({name: iso(getattr(row, name)) for name in _TIMES})
    return lead


def insert_lead(conn: Connection, **values: Any) -> dict[str, Any]:
    now = utcnow()
    conn.execute(insert(leads).values(first_seen_at=now, last_seen_at=now, **values))
    return get_lead(conn, values["id"])  # type: ignore[return-value]


def get_lead(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(leads).where(leads.c.id == lead_id)).first()
    return lead_from_row(row) if row else None


def get_lead_row(conn: Connection, lead_id: str) -> Any:
    return conn.execute(select(leads).where(leads.c.id == lead_id)).first()


def update_lead(conn: Connection, lead_id: str, **values: Any) -> None:
    if values:
        conn.execute(update(leads).where(leads.c.id == lead_id).values(**values))


def count_visit(conn: Connection, lead_id: str, *, new_visit: bool, **values: Any) -> None:
    extra = {"visits": leads.c.visits + 1} if new_visit else {}
    conn.execute(update(leads).where(leads.c.id == lead_id).values(last_seen_at=utcnow(), **extra, **values))


def find_leads(conn: Connection, site_id: int, *, exclude: str, **match: Any) -> list[Any]:
    """Live (not merged) leads of the site other than ``exclude`` with any of the given values."""
    conditions = [getattr(leads.c, k) == v for k, v in match.items() if v]
    if not conditions:
        return []
    rows = conn.execute(
        select(leads).where(
            and_(leads.c.site_id == site_id, leads.c.id != exclude, leads.c.merged_into.is_(None), or_(*conditions))
        ).order_by(leads.c.first_seen_at, leads.c.id)
    )
    return list(rows)


def move_lead(conn: Connection, from_id: str, to_id: str) -> None:
    """Everything that belonged to ``from_id`` now belongs to ``to_id`` (a merge)."""
    conn.execute(update(visitors).where(visitors.c.lead_id == from_id).values(lead_id=to_id))
    conn.execute(update(page_views).where(page_views.c.lead_id == from_id).values(lead_id=to_id))
    conn.execute(update(lead_addresses).where(lead_addresses.c.lead_id == from_id).values(lead_id=to_id))


def record_address(conn: Connection, lead_id: str, ip: str, *, country: Any, region: Any, city: Any) -> None:
    now = utcnow()
    result = conn.execute(
        update(lead_addresses)
        .where(and_(lead_addresses.c.lead_id == lead_id, lead_addresses.c.ip == ip))
        .values(last_seen_at=now, country=country, region=region, city=city)
    )
    if result.rowcount == 0:
        conn.execute(insert(lead_addresses).values(
            lead_id=lead_id, ip=ip, country=country, region=region, city=city, first_seen_at=now, last_seen_at=now
        ))


def list_addresses(conn: Connection, lead_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(lead_addresses).where(lead_addresses.c.lead_id == lead_id)
        .order_by(desc(lead_addresses.c.last_seen_at)).limit(limit)
    )
    return [
        {"ip": r.ip, "country": r.country, "region": r.region, "city": r.city,
         "first_seen_at": iso(r.first_seen_at), "last_seen_at": iso(r.last_seen_at)}
        for r in rows
    ]


# A page view runs beside chat messages in the writer's batches: its statements are built
# once (building a SQLAlchemy expression costs more CPU than SQLite takes to run it).
_LEAD_OF_VISITOR = (
    select(leads).select_from(leads.join(visitors, visitors.c.lead_id == leads.c.id))
    .where(visitors.c.id == bindparam("vid"))
)
_ON_PAGE = (
    update(leads).where(leads.c.id == bindparam("lid"))
    .values(current_url=bindparam("p_url"), current_title=bindparam("p_title"), last_seen_at=bindparam("p_at"))
)
_INSERT_PAGE = insert(page_views)


def lead_of_visitor(conn: Connection, visitor_id: str) -> Any:
    """The visitor's lead row as linked (it may have been merged: see merged_into), or None."""
    return conn.execute(_LEAD_OF_VISITOR, {"vid": visitor_id}).first()


def insert_page_view(conn: Connection, *, lead_id: str, visitor_id: str, url: str, title: str | None) -> dict[str, Any]:
    """The lead is on this page now: its current page, last seen, and a row of its journey."""
    now = utcnow()
    conn.execute(_ON_PAGE, {"lid": lead_id, "p_url": url, "p_title": title, "p_at": now})
    conn.execute(_INSERT_PAGE, {"lead_id": lead_id, "visitor_id": visitor_id, "url": url, "title": title,
                                "created_at": now})
    return {"url": url, "title": title, "visitor_id": visitor_id, "at": iso(now)}


def list_page_views(conn: Connection, lead_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest ``limit`` pages, oldest first."""
    rows = list(conn.execute(
        select(page_views).where(page_views.c.lead_id == lead_id).order_by(desc(page_views.c.id)).limit(limit)
    ))
    return [{"url": r.url, "title": r.title, "visitor_id": r.visitor_id, "at": iso(r.created_at)} for r in reversed(rows)]


def lead_conversations(conn: Connection, lead_id: str) -> list[dict[str, Any]]:
    """Every conversation of every visitor of the lead, newest first."""
    rows = conn.execute(
        select(conversations.c.id, conversations.c.status, conversations.c.created_at,
               conversations.c.last_message_at, conversations.c.last_message_preview, conversations.c.visitor_id)
        .select_from(conversations.join(visitors, conversations.c.visitor_id == visitors.c.id))
        .where(visitors.c.lead_id == lead_id)
        .order_by(desc(conversations.c.created_at))
    )
    return [
        {"id": r.id, "status": r.status, "created_at": iso(r.created_at), "last_message_at": iso(r.last_message_at),
         "last_message_preview": r.last_message_preview, "visitor_id": r.visitor_id}
        for r in rows
    ]


def lead_visitor_ids(conn: Connection, lead_id: str) -> list[str]:
    return [r.id for r in conn.execute(select(visitors.c.id).where(visitors.c.lead_id == lead_id))]


def list_leads(conn: Connection, *, limit: int = 200, site_ids: Any = None) -> list[dict[str, Any]]:
    """Live leads, newest activity first, with their site's name and conversation count;
    ``site_ids``: only those sites' (an operator limited to some sites)."""
    counts = (
        select(visitors.c.lead_id, func.count(conversations.c.id).label("n"))
        .select_from(conversations.join(visitors, conversations.c.visitor_id == visitors.c.id))
        .group_by(visitors.c.lead_id).subquery()
    )
    query = (
        select(leads, sites.c.name.label("site_name"), func.coalesce(counts.c.n, 0).label("conversations"))
        .select_from(leads.join(sites, leads.c.site_id == sites.c.id).outerjoin(counts, counts.c.lead_id == leads.c.id))
        .where(leads.c.merged_into.is_(None))
    )
    if site_ids is not None:
        query = query.where(leads.c.site_id.in_(sorted(site_ids)))
    rows = conn.execute(query.order_by(desc(leads.c.last_seen_at), desc(leads.c.id)).limit(limit))
    return [{**lead_from_row(r), "site_name": r.site_name, "conversations": r.conversations} for r in rows]
