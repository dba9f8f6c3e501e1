"""Search over leads and their conversations: one function, SQLite FTS5 or PostgreSQL tsvector.

A lead matches when any of these holds (services/search.py works out which apply):
* every query word starts a word of its name, of one of its chat messages, of one of its
  conversations' private notes, or of one of its own private notes (lead_notes; full-text,
  word prefixes of stemmed query words);
* its email contains the typed text;
* its phone is one of the numbers the typed text can be read as, or contains its digits.
Then the filters (site, status, owner, tag, last activity) and the operator's sites.
The order (search_leads): leads whose own fields match, newest activity first; then those
whose messages match, newest matching message first; then those found by a conversation's
note only; then by a note on the lead only. Each comes with its newest matching message or
note, for a snippet, and with its tags, owner's and site's names and conversation count.

SQLite: the FTS5 tables of migrations 0016 and 0019 (messages indexed before a search, the
rest kept by triggers). PostgreSQL: the same expressions as their GIN indexes
(``to_tsvector('simple', …)``), so the planner uses them; the whole search is one statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (BigInteger, Integer, String, and_, bindparam, cast, column, desc, exists, func, literal, not_,
                        null, select, text, union, union_all)
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection

from .db import iso
from .leads import lead_from_row
from .schema import (Timestamp, conversation_entries, conversations, lead_notes, lead_tags, leads, messages, operators,
                     sites, visitors)


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
    # the newest matching private note (operators only): a conversation's (kind "note", or
    # the note of a transfer) or the lead's own (kind "lead_note", conversation_id None)
    note: dict[str, Any] | None


def _fts_query(words: tuple[str, ...]) -> str:
    # Words are \w+ only (services/search.py), so quoting cannot be escaped from.
    return " ".join(f'"{w}"*' for w in words)


def _ts_query(words: tuple[str, ...]) -> str:
    return " & ".join(f"'{w}':*" for w in words)


# The statements are built from a search's shape (which kinds of match and which filters it
# has) with every value a bound parameter (_params), so that one built statement serves every
# search of that shape: building PostgreSQL's cost the client 2-3 ms of CPU a search, and the
# same SQL text lets the driver's prepared statement be reused.


def _params(dialect: str, match: Match, filters: Filters, offset: int, need: int) -> dict[str, Any]:
    """The values of a search, by the names the statements bind them as."""
    values: dict[str, Any] = {"offset": offset, "need": need, "limit": need - offset}
    window = _window(filters, need)
    if window is not None:
        values["window"] = window
    if filters.site_ids is not None:
        values["site_ids"] = sorted(filters.site_ids)
    for name in ("site_id", "status", "tag", "active_from", "active_before"):
        if getattr(filters, name) is not None:
            values[name] = getattr(filters, name)
    if filters.owner_id:
        values["owner_id"] = filters.owner_id
    if match.words:
        values["fts" if dialect == "sqlite" else "tsq"] = (
            _fts_query(match.words) if dialect == "sqlite" else _ts_query(match.words))
    if match.email:
        values["email_like"] = "%" + _like_escape(match.email) + "%"
    if match.phones:
        values["phones"] = list(match.phones)
    if match.digits:
        values["digits_like"] = "%" + match.digits + "%"
    return values


def _shape(dialect: str, match: Match, filters: Filters) -> tuple[Any, ...]:
    """What decides a search's statement (its values aside)."""
    return (dialect, match.empty, bool(match.words), bool(match.email), bool(match.phones), bool(match.digits),
            filters.site_ids is None, _window(filters, 1) is None, filters.owner_id in (None, 0), filters.owner_id == 0,
            *(getattr(filters, n) is None for n in ("site_id", "status", "tag", "active_from", "active_before")))


def _conditions(filters: Filters) -> list[Any]:
    where = [leads.c.merged_into.is_(None)]
    if filters.site_ids is not None:
        where.append(leads.c.site_id.in_(bindparam("site_ids", expanding=True)))
    if filters.site_id is not None:
        where.append(leads.c.site_id == bindparam("site_id"))
    if filters.status is not None:
        where.append(leads.c.status == bindparam("status"))
    if filters.owner_id == 0:
        where.append(leads.c.owner_id.is_(None))
    elif filters.owner_id is not None:
        where.append(leads.c.owner_id == bindparam("owner_id"))
    if filters.tag is not None:
        where.append(exists().where(and_(lead_tags.c.lead_id == leads.c.id, lead_tags.c.tag == bindparam("tag"))))
    if filters.active_from is not None:
        where.append(leads.c.last_seen_at >= bindparam("active_from"))
    if filters.active_before is not None:
        where.append(leads.c.last_seen_at < bindparam("active_before"))
    return where


# The tiers of the order, and which text a lead was found by.
OWN, MESSAGE, NOTE, LEAD_NOTE = 1, 2, 3, 4
# Where the page starts and ends (offset + limit), as bound in every statement.
_OFFSET, _NEED = bindparam("offset", type_=Integer), bindparam("need", type_=Integer)
_LIMIT = bindparam("limit", type_=Integer)  # need - offset


def _own_conditions(conn: Connection, match: Match) -> list[Any]:
    """One condition per way a lead's own fields can match."""
    any_of = []
    if match.words and conn.dialect.name == "sqlite":
        names = text("SELECT lead_id FROM search_leads WHERE search_leads MATCH :fts").columns(column("lead_id", String))
        any_of.append(leads.c.id.in_(names))
    elif match.words:
        any_of.append(text("to_tsvector('simple', coalesce(leads.name, '')) @@ to_tsquery('simple', :tsq)"))
    if match.email:
        any_of.append(func.lower(leads.c.email).like(bindparam("email_like"), escape="\\"))
    if match.phones:
        any_of.append(leads.c.phone.in_(bindparam("phones", expanding=True)))
    if match.digits:
        any_of.append(leads.c.phone.like(bindparam("digits_like")))
    return any_of


def _own_query(conn: Connection, match: Match, where: list[Any]) -> Any:
    """Leads whose name, email or phone match, newest activity first: (lead_id, at)."""
    any_of = _own_conditions(conn, match)
    # One SELECT per way of matching, so each uses its own index (an OR of them made
    # PostgreSQL compute every lead's name vector: a scan of the table).
    if len(any_of) == 1:
        found = select(leads.c.id, leads.c.last_seen_at).where(any_of[0], *where).subquery()
    else:
        found = union(*(select(leads.c.id, leads.c.last_seen_at).where(c, *where) for c in any_of)).subquery()
    return (select(found.c.id.label("lead_id"), found.c.last_seen_at.label("at"))
            .order_by(desc(found.c.last_seen_at), desc(found.c.id)).limit(_NEED))


# What the words are looked for in: (table, its FTS5 table on SQLite, the PostgreSQL
# condition repeating the GIN index's expression and predicate, as migrations 0016 and
# 0019 made them, its tier).
_TEXTS = {
    "messages": (messages, "search_messages", "to_tsvector('simple', messages.body) @@ to_tsquery('simple', :tsq)",
                 MESSAGE),
    "notes": (conversation_entries, "search_notes",
              "conversation_entries.body IS NOT NULL AND "
              "to_tsvector('simple', coalesce(conversation_entries.body, '')) @@ to_tsquery('simple', :tsq)", NOTE),
    "lead_notes": (lead_notes, "search_lead_notes",
                   "to_tsvector('simple', lead_notes.body) @@ to_tsquery('simple', :tsq)", LEAD_NOTE),
}


def _to_lead(source: Any, link: Any, kind: str) -> Any:
    """A text's rows joined to their lead (a lead note names it; a message or conversation
    note through its conversation's visitor)."""
    if kind == "lead_notes":
        return source.join(leads, leads.c.id == link)
    return (source.join(conversations, conversations.c.id == link)
            .join(visitors, visitors.c.id == conversations.c.visitor_id)
            .join(leads, leads.c.id == visitors.c.lead_id))


def _newest_texts(conn: Connection, kind: str, where: list[Any], values: dict[str, Any], need: int,
                  skip: set[str]) -> dict[str, int]:
    """SQLite: up to ``need`` leads (not in ``skip``) with a matching message (or note), by
    their newest matching one, newest first: lead id -> that message's (note's) id.

    It reads the FTS5 index newest row first and stops at ``need`` leads: a common word
    costs what a page needs, not every message it is in (docs/benchmarks.md, "Search")."""
    table, fts_name, _, _ = _TEXTS[kind]
    found: dict[str, int] = {}
    fts = sql_table(fts_name, column("rowid", Integer))
    link = table.c.lead_id if kind == "lead_notes" else table.c.conversation_id
    query = (
        select(leads.c.id, table.c.id)
        .select_from(_to_lead(fts.join(table, table.c.id == fts.c.rowid), link, kind))
        .where(text(f"{fts_name} MATCH :fts"), *where)
        .order_by(desc(fts.c.rowid))
    )
    result = conn.execute(query, values)
    try:
        for lead_id, item_id in result:
            if lead_id not in found and lead_id not in skip:
                found[lead_id] = item_id
                if len(found) >= need:
                    break
    finally:
        result.close()
    return found


def _sqlite_ranked(conn: Connection, match: Match, filters: Filters, values: dict[str, Any]) -> Any:
    """SQLite: the page's (lead_id, tier, item, pos), worked out here and handed to the
    page's statement as one JSON parameter (statements are in-process calls here; what
    counts is reading no more of the index than a page needs)."""
    where, offset, need = _conditions(filters), values["offset"], values["need"]
    order: list[tuple[str, int, int | None]] = [
        (lead_id, OWN, None) for lead_id, _ in conn.execute(_own_query(conn, match, where), values)]
    if match.words:
        for kind in ("messages", "notes", "lead_notes"):
            if len(order) >= need:
                break
            tier = _TEXTS[kind][3]
            found = _newest_texts(conn, kind, where, values, need - len(order), {lead_id for lead_id, _, _ in order})
            order += [(lead_id, tier, item) for lead_id, item in found.items()]
    page = [[lead_id, tier, item, offset + i + 1] for i, (lead_id, tier, item) in enumerate(order[offset:need])]
    values["page"] = json.dumps(page)
    rows = func.json_each(bindparam("page")).table_valued("value").alias("ranked")
    return select(
        func.json_extract(rows.c.value, "$[0]").label("lead_id"), func.json_extract(rows.c.value, "$[1]").label("tier"),
        func.json_extract(rows.c.value, "$[2]").label("item"), func.json_extract(rows.c.value, "$[3]").label("pos"),
    ).subquery("ranked")


def _window(filters: Filters, need: int) -> int | None:
    """How many of the newest matching messages (or notes) to map to leads first (None: all).

    Without filters most leads pass, and an operator limited to some sites still sees a
    good share: a window of the newest matches fills a page. A status, site, owner, tag or
    date filter lets few pass (1 in 15 in the benchmark), and a window would only add a step
    before mapping every match anyway."""
    if any(v is not None for v in (filters.site_id, filters.status, filters.owner_id, filters.tag,
                                    filters.active_from, filters.active_before)):
        return None
    return max(200, need * 8) if filters.site_ids is None else max(500, need * 20)


# PostgreSQL reads the matches among the newest RECENT messages first: a bitmap AND of the
# GIN index and the primary key's range visits only their rows (a common word's 20,594
# matches of 100,000 messages cost 13 ms to read, those among the newest 10,000 3 ms).
RECENT = 10_000


def _pg_texts(kind: str, where: list[Any], own: Any, use_window: bool) -> Any:
    """PostgreSQL: (lead_id, item) of up to ``need`` leads (not found by their own fields)
    by their newest matching message (or note), newest first. One statement, in steps
    that run only when the one before did not fill the page (one-time filters: a CTE
    nothing reads is never computed):

    1. messages only: the matches among the newest RECENT messages;
    2. ``use_window``: only the newest ``window`` matches are mapped to their leads (a
       common word is in 20 % of the messages); when fewer than ``need`` leads among those
       pass the filters and the window was full, all of them are mapped.

    The matches come from the GIN index as a set (MATERIALIZED keeps the planner from
    walking the primary key backwards and computing to_tsvector row by row, which a rare
    word makes a full scan)."""
    table, _, pg_condition, _ = _TEXTS[kind]
    link = table.c.lead_id if kind == "lead_notes" else table.c.conversation_id
    matching = text(pg_condition)
    need, window = _NEED, bindparam("window", type_=Integer)
    not_own = leads.c.id.not_in(select(own.c.lead_id))

    def hits_of(name: str, *also: Any) -> Any:
        return select(table.c.id, link.label("link")).where(matching, *also).cte(name).prefix_with("MATERIALIZED")

    def mapped(source: Any) -> Any:
        return (select(leads.c.id.label("lead_id"), func.max(source.c.id).label("item"))
                .select_from(_to_lead(source, source.c.link, kind)).where(*where, not_own).group_by(leads.c.id))

    def newest_first(hits: Any, name: str) -> Any:
        if not use_window:  # a selective filter maps every match
            return mapped(hits).subquery(name)
        newest = select(hits.c.id, hits.c.link).order_by(desc(hits.c.id)).limit(window).cte(f"{name}_newest")
        windowed = mapped(newest).cte(f"{name}_window")
        everything = and_(  # too few leads passed, and there are more matches than the window
            select(func.count()).select_from(windowed).scalar_subquery() < need,
            select(func.count()).select_from(newest).scalar_subquery() >= window,
        )
        return union_all(
            select(windowed.c.lead_id, windowed.c.item).where(not_(everything)),
            mapped(hits).where(everything),
        ).subquery(name)

    if kind != "messages":
        found = newest_first(hits_of(f"{kind}_hits"), kind)
    else:
        last = messages.alias("last_message")
        newest_id = select(func.max(last.c.id)).scalar_subquery()
        recent = newest_first(hits_of("recent_hits", messages.c.id > newest_id - RECENT), "recent")
        recent_found = select(recent.c.lead_id, recent.c.item).cte("recent_found")
        enough = select(func.count()).select_from(recent_found).scalar_subquery() >= need
        older = newest_first(hits_of("messages_hits"), "messages")
        found = union_all(
            select(recent_found.c.lead_id, recent_found.c.item).where(enough),
            select(older.c.lead_id, older.c.item).where(not_(enough)),
        ).subquery("found")
    own_fill = select(func.count()).select_from(own).scalar_subquery() < need  # else none of this runs
    return select(found.c.lead_id, found.c.item).where(own_fill).order_by(desc(found.c.item)).limit(need)


def _pg_ranked(conn: Connection, match: Match, filters: Filters) -> Any:
    """PostgreSQL: the page's (lead_id, tier, item, pos), computed in the page's own
    statement (every statement is a round trip, which a busy machine makes wait its turn)."""
    where = _conditions(filters)
    own = _own_query(conn, match, where).cte("own")
    no_at = cast(null(), Timestamp)
    tiers = [select(own.c.lead_id, literal(OWN).label("tier"), own.c.at, cast(null(), BigInteger).label("item"))]
    if match.words:
        for kind in ("messages", "notes", "lead_notes"):
            found = _pg_texts(kind, where, own, _window(filters, 1) is not None).subquery()
            tiers.append(select(found.c.lead_id, literal(_TEXTS[kind][3]), no_at, found.c.item))
    every = union_all(*tiers).subquery("every") if len(tiers) > 1 else tiers[0].subquery("every")
    # A lead found several ways counts once, in its first tier.
    nth = func.row_number().over(partition_by=every.c.lead_id, order_by=every.c.tier).label("nth")
    once = select(every.c.lead_id, every.c.tier, every.c.at, every.c.item, nth).subquery("once")
    first = select(once.c.lead_id, once.c.tier, once.c.at, once.c.item).where(once.c.nth == 1).subquery("first")
    pos = func.row_number().over(order_by=(first.c.tier, desc(first.c.at).nulls_last(), desc(first.c.item),
                                           desc(first.c.lead_id)))
    numbered = select(first.c.lead_id, first.c.tier, first.c.item, pos.label("pos")).subquery("numbered")
    return select(numbered).where(numbered.c.pos > _OFFSET, numbered.c.pos <= _NEED).subquery("ranked")


def _listing(filters: Filters) -> Any:
    """Filters only: the page's leads, newest activity first, as (lead_id, tier, item, pos)."""
    page = (select(leads.c.id, leads.c.last_seen_at).where(*_conditions(filters))
            .order_by(desc(leads.c.last_seen_at), desc(leads.c.id)).limit(_LIMIT).offset(_OFFSET).subquery())
    pos = func.row_number().over(order_by=(desc(page.c.last_seen_at), desc(page.c.id)))
    return select(page.c.id.label("lead_id"), literal(OWN).label("tier"), cast(null(), BigInteger).label("item"),
                  pos.label("pos")).subquery("ranked")


def search_leads(conn: Connection, match: Match, filters: Filters, *, limit: int, offset: int = 0) -> list[Hit]:
    """Leads matching ``match`` and ``filters``: ``limit`` of them after skipping ``offset``
    (ask for one more than a page to know whether another follows).

    The order: without a match, newest activity first. With one, first the leads whose own
    name, email or phone match (newest activity first), then those whose chat messages
    match (the newest matching message first), then those found by a conversation's private
    note, then by a private note on the lead. One statement on PostgreSQL; on SQLite the
    match is walked here, then one statement reads the page."""
    dialect = conn.dialect.name
    values = _params(dialect, match, filters, offset, offset + limit)
    if dialect == "sqlite" and not match.empty:  # its page depends on what was walked
        return _page(conn, _page_query(_sqlite_ranked(conn, match, filters, values)), values)
    # Built once per shape and kept with the database connection (as the driver keeps its
    # prepared statements): no module-level state, and a pooled connection reuses it.
    built: dict[tuple[Any, ...], Any] = conn.info.setdefault("frontdesk.search_statements", {})
    shape = _shape(dialect, match, filters)
    if shape not in built:
        built[shape] = _page_query(_listing(filters) if match.empty else _pg_ranked(conn, match, filters))
    return _page(conn, built[shape], values)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_M, _E, _N = messages.alias("m"), conversation_entries.alias("e"), lead_notes.alias("n")
_OWNER, _NOTE_AUTHOR = operators.alias("lead_owner"), operators.alias("note_author")


def _page_query(ranked: Any) -> Any:
    """The page's leads in order, each with its site's and owner's names, tags (a row per
    tag: a lead has a few), conversation count and the text it was found by."""
    counted = (select(func.count(conversations.c.id))
               .select_from(conversations.join(visitors, visitors.c.id == conversations.c.visitor_id))
               .where(visitors.c.lead_id == leads.c.id).scalar_subquery())
    query = (
        select(
            ranked.c.pos, ranked.c.tier, leads, sites.c.name.label("site_name"), _OWNER.c.name.label("owner_name"),
            counted.label("conversation_count"), lead_tags.c.tag.label("tag"),
            _M.c.id.label("m_id"), _M.c.conversation_id.label("m_conversation_id"),
            _M.c.author_kind.label("m_author_kind"), _M.c.author_name.label("m_author_name"),
            _M.c.body.label("m_body"), _M.c.created_at.label("m_created_at"),
            _E.c.id.label("e_id"), _E.c.conversation_id.label("e_conversation_id"), _E.c.kind.label("e_kind"),
            _E.c.actor_name.label("e_author_name"), _E.c.body.label("e_body"), _E.c.created_at.label("e_created_at"),
            _N.c.id.label("n_id"), _NOTE_AUTHOR.c.name.label("n_author_name"), _N.c.body.label("n_body"),
            _N.c.created_at.label("n_created_at"),
        )
        .select_from(
            ranked.join(leads, leads.c.id == ranked.c.lead_id)
            .join(sites, sites.c.id == leads.c.site_id)
            .outerjoin(_OWNER, _OWNER.c.id == leads.c.owner_id)
            .outerjoin(lead_tags, lead_tags.c.lead_id == leads.c.id)
            .outerjoin(_M, and_(ranked.c.tier == MESSAGE, _M.c.id == ranked.c.item))
            .outerjoin(_E, and_(ranked.c.tier == NOTE, _E.c.id == ranked.c.item))
            .outerjoin(_N, and_(ranked.c.tier == LEAD_NOTE, _N.c.id == ranked.c.item))
            .outerjoin(_NOTE_AUTHOR, _NOTE_AUTHOR.c.id == _N.c.operator_id)
        )
        .order_by(ranked.c.pos, lead_tags.c.tag)
    )
    return query


def _page(conn: Connection, query: Any, values: dict[str, Any]) -> list[Hit]:
    hits: list[Hit] = []
    for r in conn.execute(query, values):
        if hits and hits[-1].lead["id"] == r.id:
            hits[-1].lead["tags"].append(r.tag)
            continue
        hits.append(Hit(
            lead={**lead_from_row(r), "site_name": r.site_name, "owner_id": r.owner_id, "owner_name": r.owner_name,
                  "lost_reason": r.lost_reason, "tags": [r.tag] if r.tag is not None else [],
                  "conversations": int(r.conversation_count or 0)},
            message=_text(r, "m", author_kind=r.m_author_kind) if r.m_id is not None else None,
            note=(_text(r, "e", kind=r.e_kind) if r.e_id is not None
                  else _text(r, "n", kind="lead_note", conversation_id=None) if r.n_id is not None else None),
        ))
    return hits


def _text(row: Any, prefix: str, **extra: Any) -> dict[str, Any]:
    """A matching message or note as a snippet needs it."""
    found = {name: getattr(row, f"{prefix}_{name}", None)
             for name in ("id", "conversation_id", "author_name", "body", "created_at")}
    found["created_at"] = iso(found["created_at"])
    return {**found, **extra}


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
