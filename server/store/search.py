"""Search over leads and their conversations: one function, SQLite FTS5 or PostgreSQL tsvector.

A lead matches when any of these holds (services/search.py works out which apply):
* every query word starts a word of its name, of one of its chat messages, or of one of
  its conversations' private notes (full-text, word prefixes of stemmed query words);
* its email contains the typed text;
* its phone is one of the numbers the typed text can be read as, or contains its digits.
Then the filters (site, status, owner, tag, last activity) and the operator's sites.
The order (search_leads): leads whose own fields match, newest activity first; then those
whose messages match, newest matching message first; then those found by a note only.
Each comes with its newest matching message or note, for a snippet.

SQLite: the FTS5 tables of migration 0016 (kept by triggers). PostgreSQL: the same
expressions as the GIN indexes of 0016 (``to_tsvector('simple', …)``), so the planner
uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, and_, column, desc, exists, func, select, text, union
from sqlalchemy import table as sql_table
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


def _own_fields(conn: Connection, match: Match, where: list[Any], need: int) -> list[str]:
    """Leads whose name, email or phone match, newest activity first."""
    any_of = []
    if match.words and conn.dialect.name == "sqlite":
        names = text("SELECT lead_id FROM search_leads WHERE search_leads MATCH :fts").bindparams(
            fts=_fts_query(match.words)).columns(column("lead_id", String))
        any_of.append(leads.c.id.in_(names))
    elif match.words:
        any_of.append(text("to_tsvector('simple', coalesce(leads.name, '')) @@ to_tsquery('simple', :tsq)")
                      .bindparams(tsq=_ts_query(match.words)))
    if match.email:
        any_of.append(func.lower(leads.c.email).like("%" + _like_escape(match.email) + "%", escape="\\"))
    if match.phones:
        any_of.append(leads.c.phone.in_(match.phones))
    if match.digits:
        any_of.append(leads.c.phone.like("%" + match.digits + "%"))
    # One SELECT per way of matching, so each uses its own index (an OR of them made
    # PostgreSQL compute every lead's name vector: a scan of the table).
    matched = union(*(select(leads.c.id, leads.c.last_seen_at).where(condition, *where) for condition in any_of))
    if len(any_of) == 1:
        matched = select(leads.c.id, leads.c.last_seen_at).where(any_of[0], *where)
    found = matched.subquery()
    query = select(found.c.id).order_by(desc(found.c.last_seen_at), desc(found.c.id)).limit(need)
    return [lead_id for (lead_id,) in conn.execute(query)]


# What the words are looked for in: (table, its FTS5 table on SQLite, the PostgreSQL
# condition repeating the GIN index's expression and predicate, as migration 0016 made it).
_TEXTS = {
    "messages": (messages, "search_messages", "to_tsvector('simple', messages.body) @@ to_tsquery('simple', :tsq)"),
    "notes": (conversation_entries, "search_notes",
              "conversation_entries.body IS NOT NULL AND "
              "to_tsvector('simple', coalesce(conversation_entries.body, '')) @@ to_tsquery('simple', :tsq)"),
}


def _newest_texts(conn: Connection, kind: str, match: Match, where: list[Any], need: int,
                  skip: set[str]) -> dict[str, int]:
    """Up to ``need`` leads (not in ``skip``) with a matching message (or note), by their newest
    matching one, newest first: lead id -> that message's (note's) id.

    SQLite reads the FTS5 index newest row first and stops at ``need`` leads: a common word
    costs what a page needs, not every message it is in (docs/benchmarks.md, "Search").
    PostgreSQL takes the GIN index's matches as a set and maps the newest of them."""
    table, fts_name, pg_condition = _TEXTS[kind]
    found: dict[str, int] = {}
    if conn.dialect.name == "sqlite":
        joins = (conversations.join(visitors, visitors.c.id == conversations.c.visitor_id)
                 .join(leads, leads.c.id == visitors.c.lead_id))
        fts = sql_table(fts_name, column("rowid", Integer))
        query = (
            select(visitors.c.lead_id, table.c.id)
            .select_from(fts.join(table, table.c.id == fts.c.rowid)
                         .join(joins, conversations.c.id == table.c.conversation_id))
            .where(text(f"{fts_name} MATCH :fts").bindparams(fts=_fts_query(match.words)), *where)
            .order_by(desc(fts.c.rowid))
        )
        result = conn.execute(query)
        try:
            for lead_id, item_id in result:
                if lead_id not in found and lead_id not in skip:
                    found[lead_id] = item_id
                    if len(found) >= need:
                        break
        finally:
            result.close()
        return found
    # PostgreSQL: the GIN index gives the matches as a set (MATERIALIZED keeps the planner
    # from walking the primary key backwards and computing to_tsvector row by row, which a
    # rare word makes a full scan); the newest ``window`` of them are mapped to their leads
    # and the leads checked against the filters; a window too small for a page grows.
    hits = (select(table.c.id, table.c.conversation_id)
            .where(text(pg_condition).bindparams(tsq=_ts_query(match.words)))
            .cte("hits").prefix_with("MATERIALIZED"))
    window = max(200, need * 4)
    while True:
        newest = select(hits.c.id, hits.c.conversation_id).order_by(desc(hits.c.id)).limit(window).subquery()
        rows = list(conn.execute(
            select(newest.c.id, visitors.c.lead_id)
            .select_from(newest.outerjoin(conversations, conversations.c.id == newest.c.conversation_id)
                         .outerjoin(visitors, visitors.c.id == conversations.c.visitor_id))
            .order_by(desc(newest.c.id))
        ))
        candidates: dict[str, int] = {}
        for item_id, lead_id in rows:
            if lead_id is not None and lead_id not in skip and lead_id not in candidates:
                candidates[lead_id] = item_id
        passing = {lead_id for (lead_id,) in conn.execute(
            select(leads.c.id).where(leads.c.id.in_(list(candidates)), *where))} if candidates else set()
        found = {lead_id: item_id for lead_id, item_id in candidates.items() if lead_id in passing}
        if len(found) >= need or len(rows) < window:
            return dict(list(found.items())[:need])
        window *= 8


def search_leads(conn: Connection, match: Match, filters: Filters, *, limit: int, offset: int = 0) -> list[Hit]:
    """Leads matching ``match`` and ``filters``: ``limit`` of them after skipping ``offset``
    (ask for one more than a page to know whether another follows).

    The order: without a match, newest activity first. With one, first the leads whose own
    name, email or phone match (newest activity first), then those whose chat messages
    match (the newest matching message first), then those found by a private note only."""
    where = _conditions(filters)
    columns = [leads, sites.c.name.label("site_name"), operators.c.name.label("owner_name")]
    joined = leads.join(sites, sites.c.id == leads.c.site_id).outerjoin(operators, operators.c.id == leads.c.owner_id)
    if match.empty:
        rows = list(conn.execute(
            select(*columns).select_from(joined).where(*where)
            .order_by(desc(leads.c.last_seen_at), desc(leads.c.id)).limit(limit).offset(offset)
        ))
        return _hits(conn, rows, {}, {})
    need = offset + limit
    order = _own_fields(conn, match, where, need)
    message_ids: dict[str, int] = {}
    note_ids: dict[str, int] = {}
    if match.words:
        message_ids = _newest_texts(conn, "messages", match, where, need - len(order), set(order))
        order += list(message_ids)
        if len(order) < need:
            note_ids = _newest_texts(conn, "notes", match, where, need - len(order), set(order))
            order += list(note_ids)
    page = order[offset:need]
    if not page:
        return []
    by_id = {r.id: r for r in conn.execute(select(*columns).select_from(joined).where(leads.c.id.in_(page)))}
    return _hits(conn, [by_id[i] for i in page if i in by_id], message_ids, note_ids)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hits(conn: Connection, rows: list[Any], message_ids: dict[str, int], note_ids: dict[str, int]) -> list[Hit]:
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
                            m.id, [message_ids[r.id] for r in rows if r.id in message_ids])
    found_notes = _by_id(conn, select(e.id, e.conversation_id, e.kind, e.actor_name.label("author_name"), e.body,
                                      e.created_at), e.id, [note_ids[r.id] for r in rows if r.id in note_ids])
    return [
        Hit(
            lead={**lead_from_row(r), "site_name": r.site_name, "owner_id": r.owner_id, "owner_name": r.owner_name,
                  "lost_reason": r.lost_reason,
                  "tags": tags.get(r.id, []), "conversations": counts.get(r.id, 0)},
            message=found_messages.get(message_ids.get(r.id, -1)), note=found_notes.get(note_ids.get(r.id, -1)),
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


def index_pending(conn: Connection, limit: int) -> int:
    """SQLite: index up to ``limit`` messages written since the last time (oldest first) in
    one statement, so one FTS5 segment per batch instead of one per message; how many.
    Migration 0016 keeps the mark (``search_state``); PostgreSQL's GIN index needs nothing."""
    if conn.dialect.name != "sqlite":
        return 0
    upto = conn.execute(text("SELECT messages_upto FROM search_state WHERE id = 1")).scalar_one()
    newest, count = conn.execute(text(
        "SELECT max(id), count(*) FROM (SELECT id FROM messages WHERE id > :upto ORDER BY id LIMIT :n)"
    ), {"upto": upto, "n": limit}).one()
    if not count:
        return 0
    conn.execute(text(
        "INSERT INTO search_messages(rowid, body) SELECT id, body FROM messages "
        "WHERE id > :upto AND id <= :newest ORDER BY id"
    ), {"upto": upto, "newest": newest})
    conn.execute(text("UPDATE search_state SET messages_upto = :newest WHERE id = 1"), {"newest": newest})
    return int(count)


def unindexed(conn: Connection) -> bool:
    """SQLite: are there messages the index has not read yet? (A read: two index lookups.)"""
    if conn.dialect.name != "sqlite":
        return False
    return bool(conn.execute(text(
        "SELECT coalesce((SELECT max(id) FROM messages), 0) > (SELECT messages_upto FROM search_state WHERE id = 1)"
    )).scalar_one())


def known_tags(conn: Connection, site_ids: frozenset[int] | None, *, limit: int = 200) -> list[str]:
    """The tags in use on the sites, for the filter's suggestions."""
    query = select(lead_tags.c.tag).distinct().order_by(lead_tags.c.tag).limit(limit)
    if site_ids is not None:
        query = query.where(lead_tags.c.site_id.in_(sorted(site_ids)))
    return [tag for (tag,) in conn.execute(query)]
