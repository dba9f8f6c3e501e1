"""Search over leads and their conversations: one function, SQLite FTS5 or PostgreSQL tsvector.

A lead matches when any of these holds (services/search.py works out which apply):
* every query word starts a word of its name, of one of its chat messages, or of one of
  its conversations' private notes (full-text, word prefixes of stemmed query words);
* its email contains the typed text;
* its phone is one of the numbers the typed text can be read as, or contains its digits.
Then the filters (site, status, owner, tag, last activity) and the operator's sites.
Newest activity first; for each lead the newest matching message and note, for a snippet.

SQLite: the FTS5 tables of migration 0016 (kept by triggers). PostgreSQL: the same
expressions as the GIN indexes of 0016 (``to_tsvector('simple', …)``), so the planner
uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, column, desc, exists, func, null, select, text
from sqlalchemy.engine import Connection

from .db import iso
from .leads import lead_from_row
from .schema import conversation_entries, conversations, lead_tags, leads, messages, operators, sites, visitors


@dataclass(frozen=True)
class Match:
    """What to look for; an empty Match lists every lead (filters only)."""

    words: tuple[str, ...] = ()  # casefolded stems, each matched as a word prefix
    email: str | None = None  # a casefolded piece of an address
    phones: tuple[str, ...] = ()  # E.164 numbers the typed text can be read as
    digits: str | None = None  # the typed digits, matched anywhere in a stored phone

    @property
    def empty(self) -> bool:
        return not (self.words or self.email or self.phones or self.digits)


@dataclass(frozen=True)
class Filters:
    site_ids: frozenset[int] | None = None  # the operator's sites (None: every site)
    site_id: int | None = None
    status: str | None = None
    owner_id: int | None = None  # 0: leads nobody owns
    tag: str | None = None
    active_from: datetime | None = None  # last activity at or after
    active_before: datetime | None = None  # last activity before


@dataclass(frozen=True)
class Hit:
    lead: dict[str, Any]  # as store.leads.lead_from_row, with site_name, owner_name, tags
    message: dict[str, Any] | None  # the newest matching chat message
    note: dict[str, Any] | None  # the newest matching private note (operators only)


def _fts_query(words: tuple[str, ...]) -> str:
    # Words are \w+ only (services/search.py), so quoting cannot be escaped from.
    return " ".join(f'"{w}"*' for w in words)


def _ts_query(words: tuple[str, ...]) -> str:
    return " & ".join(f"'{w}':*" for w in words)


def _hit_sources(dialect: str, match: Match) -> list[str]:
    """SELECTs of (lead_id, message_id, note_id), one per way a lead can match."""
    none = "NULL" if dialect == "sqlite" else "CAST(NULL AS BIGINT)"
    lead = f"SELECT id AS lead_id, {none} AS message_id, {none} AS note_id FROM leads WHERE "
    message = (f"SELECT v.lead_id AS lead_id, m.id AS message_id, {none} AS note_id FROM messages m "
               "JOIN conversations c ON c.id = m.conversation_id JOIN visitors v ON v.id = c.visitor_id ")
    note = (f"SELECT v.lead_id AS lead_id, {none} AS message_id, e.id AS note_id FROM conversation_entries e "
            "JOIN conversations c ON c.id = e.conversation_id JOIN visitors v ON v.id = c.visitor_id ")
    sources = []
    if match.words and dialect == "sqlite":
        sources += [
            f"SELECT lead_id, {none} AS message_id, {none} AS note_id FROM search_leads WHERE search_leads MATCH :fts",
            message + "JOIN search_messages f ON f.rowid = m.id WHERE search_messages MATCH :fts",
            note + "JOIN search_notes f ON f.rowid = e.id WHERE search_notes MATCH :fts",
        ]
    elif match.words:
        sources += [
            lead + "to_tsvector('simple', coalesce(name, '')) @@ to_tsquery('simple', :tsq)",
            message + "WHERE to_tsvector('simple', m.body) @@ to_tsquery('simple', :tsq)",
            note + "WHERE e.body IS NOT NULL AND to_tsvector('simple', coalesce(e.body, '')) @@ to_tsquery('simple', :tsq)",
        ]
    if match.email:
        sources.append(lead + "lower(email) LIKE :email ESCAPE '\\'")
    if match.phones:
        sources.append(lead + "phone IN :phones")
    if match.digits:
        sources.append(lead + "phone LIKE :digits")
    return sources


def _conditions(filters: Filters) -> list[Any]:
    where = [leads.c.merged_into.is_(None)]
    if filters.site_ids is not None:
        where.append(leads.c.site_id.in_(sorted(filters.site_ids)))
    if filters.site_id is not None:
        where.append(leads.c.site_id == filters.site_id)
    if filters.status is not None:
        where.append(leads.c.status == filters.status)
    if filters.owner_id == 0:
        where.append(leads.c.owner_id.is_(None))
    elif filters.owner_id is not None:
        where.append(leads.c.owner_id == filters.owner_id)
    if filters.tag is not None:
        where.append(exists().where(and_(lead_tags.c.lead_id == leads.c.id, lead_tags.c.tag == filters.tag)))
    if filters.active_from is not None:
        where.append(leads.c.last_seen_at >= filters.active_from)
    if filters.active_before is not None:
        where.append(leads.c.last_seen_at < filters.active_before)
    return where


def _hits_subquery(dialect: str, match: Match) -> Any:
    """(lead_id, message_id, note_id) per matching lead: the newest matching message and note."""
    sql = " UNION ALL ".join(_hit_sources(dialect, match))
    params: dict[str, Any] = {}
    if match.words:
        params["fts" if dialect == "sqlite" else "tsq"] = (_fts_query if dialect == "sqlite" else _ts_query)(match.words)
    if match.email:
        params["email"] = "%" + _like_escape(match.email) + "%"
    if match.digits:
        params["digits"] = "%" + match.digits + "%"
    binds = [bindparam(name, value) for name, value in params.items()]
    if match.phones:
        binds.append(bindparam("phones", list(match.phones), expanding=True))
    hits = (
        text(sql).bindparams(*binds)
        .columns(column("lead_id", String), column("message_id", BigInteger), column("note_id", BigInteger))
        .subquery("hits")
    )
    return (
        select(hits.c.lead_id, func.max(hits.c.message_id).label("message_id"),
               func.max(hits.c.note_id).label("note_id"))
        .group_by(hits.c.lead_id).subquery("best")
    )


def search_leads(conn: Connection, match: Match, filters: Filters, *, limit: int, offset: int = 0) -> list[Hit]:
    """Leads matching ``match`` and ``filters``, newest activity first: ``limit`` of them
    after skipping ``offset`` (ask for one more than a page to know whether another follows)."""
    columns = [leads, sites.c.name.label("site_name"), operators.c.name.label("owner_name")]
    if match.empty:
        query = select(*columns, null().label("message_id"), null().label("note_id")).select_from(leads)
        base = leads
    else:
        best = _hits_subquery(conn.dialect.name, match)
        query = select(*columns, best.c.message_id, best.c.note_id)
        base = best.join(leads, leads.c.id == best.c.lead_id)
    query = (
        query.select_from(
            base.join(sites, sites.c.id == leads.c.site_id).outerjoin(operators, operators.c.id == leads.c.owner_id)
        )
        .where(*_conditions(filters))
        .order_by(desc(leads.c.last_seen_at), desc(leads.c.id)).limit(limit).offset(offset)
    )
    return _hits(conn, list(conn.execute(query)))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hits(conn: Connection, rows: list[Any]) -> list[Hit]:
    """The page's rows with their tags and the text of their matching message and note."""
    tags: dict[str, list[str]] = {}
    if rows:
        found = conn.execute(
            select(lead_tags.c.lead_id, lead_tags.c.tag).where(lead_tags.c.lead_id.in_([r.id for r in rows]))
            .order_by(lead_tags.c.tag)
        )
        for lead_id, tag in found:
            tags.setdefault(lead_id, []).append(tag)
    counts: dict[str, int] = {}
    if rows:
        found = conn.execute(
            select(visitors.c.lead_id, func.count(conversations.c.id))
            .select_from(conversations.join(visitors, visitors.c.id == conversations.c.visitor_id))
            .where(visitors.c.lead_id.in_([r.id for r in rows])).group_by(visitors.c.lead_id)
        )
        counts = {lead_id: n for lead_id, n in found}
    m, e = messages.c, conversation_entries.c
    found_messages = _by_id(conn, select(m.id, m.conversation_id, m.author_kind, m.author_name, m.body, m.created_at),
                            m.id, [r.message_id for r in rows if r.message_id is not None])
    found_notes = _by_id(conn, select(e.id, e.conversation_id, e.kind, e.actor_name.label("author_name"), e.body,
                                      e.created_at), e.id, [r.note_id for r in rows if r.note_id is not None])
    return [
        Hit(
            lead={**lead_from_row(r), "site_name": r.site_name, "owner_id": r.owner_id, "owner_name": r.owner_name,
                  "lost_reason": r.lost_reason,
                  "tags": tags.get(r.id, []), "conversations": counts.get(r.id, 0)},
            message=found_messages.get(r.message_id), note=found_notes.get(r.note_id),
        )
        for r in rows
    ]


def _by_id(conn: Connection, query: Any, key: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    out = {}
    for row in conn.execute(query.where(key.in_(ids))):
        item = dict(row._mapping)
        item["created_at"] = iso(item["created_at"])
        out[item["id"]] = item
    return out


def known_tags(conn: Connection, site_ids: frozenset[int] | None, *, limit: int = 200) -> list[str]:
    """The tags in use on the sites, for the filter's suggestions."""
    query = select(lead_tags.c.tag).distinct().order_by(lead_tags.c.tag).limit(limit)
    if site_ids is not None:
        query = query.where(lead_tags.c.site_id.in_(sorted(site_ids)))
    return [tag for (tag,) in conn.execute(query)]
