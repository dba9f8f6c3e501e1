"""Queries for FAQ articles and the questions the FAQ lacks.

``search_candidates`` is the one function whose SQL differs by backend: SQLite asks the
FTS5 trigram table ``faq_search``, PostgreSQL pg_trgm's word similarity (or, without the
extension, every published article of the site). Both return the same kind of rows,
which services/faq_search.py ranks the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .schema import faq_articles, faq_gaps, faq_trigrams

CANDIDATES = 60  # what the index hands the ranking: enough for typos, cheap to rank


@dataclass(frozen=True)
class Article:
    id: int
    site_id: int
    language: str
    question: str
    answer: str
    answer_html: str
    category: str
    position: int
    published: bool
    phrasings: tuple[str, ...]
    helpful_yes: int
    helpful_no: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """What a visitor may read of a published article."""
        return {"id": self.id, "question": self.question, "answer_html": self.answer_html,
                "category": self.category, "lang": self.language}

    def exported(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "category": self.category,
                "lang": self.language, "order": self.position, "published": self.published,
                "phrasings": list(self.phrasings)}

    def summary(self) -> dict[str, Any]:
        return {**self.exported(), "id": self.id, "helpful_yes": self.helpful_yes, "helpful_no": self.helpful_no,
                "updated_at": iso(self.updated_at)}


def _article(row: Any) -> Article:
    return Article(
        id=row.id, site_id=row.site_id, language=row.language, question=row.question, answer=row.answer,
        answer_html=row.answer_html, category=row.category, position=row.position, published=bool(row.published),
        phrasings=tuple(json.loads(row.phrasings or "[]")), helpful_yes=row.helpful_yes, helpful_no=row.helpful_no,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _values(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "phrasings" in out:
        out["phrasings"] = json.dumps(list(out["phrasings"]), ensure_ascii=False)
    if "terms" in out:
        out["terms"] = json.dumps(out["terms"], ensure_ascii=False)
    return out


def insert_article(conn: Connection, **values: Any) -> Article:
    now = utcnow()
    result = conn.execute(
        insert(faq_articles).values(created_at=now, updated_at=now, **_values(values)).returning(faq_articles.c.id)
    )
    article_id = result.scalar_one()
    _store_trigrams(conn, article_id, values["site_id"], values["search_terms"])
    return get_article(conn, article_id)  # type: ignore[return-value]


def update_article(conn: Connection, article_id: int, **values: Any) -> Article:
    conn.execute(update(faq_articles).where(faq_articles.c.id == article_id)
                 .values(updated_at=utcnow(), **_values(values)))
    article = get_article(conn, article_id)
    assert article is not None
    if "search_terms" in values:
        _store_trigrams(conn, article_id, article.site_id, values["search_terms"])
    return article


def _store_trigrams(conn: Connection, article_id: int, site_id: int, search_terms: str) -> None:
    """PostgreSQL's candidate index (SQLite's FTS5 table is kept by triggers instead)."""
    if conn.dialect.name == "sqlite":
        return
    conn.execute(delete(faq_trigrams).where(faq_trigrams.c.article_id == article_id))
    counts: dict[str, int] = {}
    for term in search_terms.split():
        for i in range(len(term) - 2):
            counts[term[i:i + 3]] = counts.get(term[i:i + 3], 0) + 1
    if counts:
        conn.execute(insert(faq_trigrams), [
            {"article_id": article_id, "trigram": gram, "site_id": site_id, "hits": hits}
            for gram, hits in counts.items()
        ])


def delete_article(conn: Connection, article_id: int) -> None:
    conn.execute(delete(faq_trigrams).where(faq_trigrams.c.article_id == article_id))
    conn.execute(delete(faq_articles).where(faq_articles.c.id == article_id))


def get_article(conn: Connection, article_id: int, site_id: int | None = None) -> Article | None:
    query = select(faq_articles).where(faq_articles.c.id == article_id)
    if site_id is not None:
        query = query.where(faq_articles.c.site_id == site_id)
    row = conn.execute(query).first()
    return _article(row) if row else None


def get_article_by_question(conn: Connection, site_id: int, language: str, question_key: str) -> Article | None:
    row = conn.execute(select(faq_articles).where(
        faq_articles.c.site_id == site_id, faq_articles.c.language == language,
        faq_articles.c.question_key == question_key,
    )).first()
    return _article(row) if row else None


def list_articles(conn: Connection, site_id: int, *, published_only: bool = False) -> list[Article]:
    query = select(faq_articles).where(faq_articles.c.site_id == site_id)
    if published_only:
        query = query.where(faq_articles.c.published.is_(True))
    query = query.order_by(faq_articles.c.language, faq_articles.c.category, faq_articles.c.position,
                           faq_articles.c.id)
    return [_article(r) for r in conn.execute(query)]


def published_languages(conn: Connection, site_id: int) -> set[str]:
    return set(conn.execute(select(faq_articles.c.language).distinct().where(
        faq_articles.c.site_id == site_id, faq_articles.c.published.is_(True))).scalars())


def has_published(conn: Connection, site_ids: Sequence[int]) -> set[int]:
    """Which of the sites have at least one published article."""
    if not site_ids:
        return set()
    return set(conn.execute(select(faq_articles.c.site_id).distinct().where(
        faq_articles.c.site_id.in_(list(site_ids)), faq_articles.c.published.is_(True))).scalars())


def count_votes(conn: Connection, article_id: int, helpful: bool) -> None:
    column = faq_articles.c.helpful_yes if helpful else faq_articles.c.helpful_no
    conn.execute(update(faq_articles).where(faq_articles.c.id == article_id).values({column: column + 1}))


# ---- search

_CANDIDATE_COLUMNS = (faq_articles.c.id, faq_articles.c.question, faq_articles.c.language,
                      faq_articles.c.answer, faq_articles.c.terms)


def search_candidates(
    conn: Connection, site_id: int, languages: Sequence[str] | None, probes: Sequence[str], *, limit: int = CANDIDATES
) -> list[tuple[int, str, str, str, str]]:
    """The published articles of the site (in ``languages``, None: any) that share most
    trigrams with the ``probes`` (query words and their forms): (id, question, language,
    answer, terms as JSON: parsed by the ranking, off the event loop), best first."""
    if not probes:
        return []
    if conn.dialect.name == "sqlite":
        rows = _sqlite_candidates(conn, site_id, languages, probes, limit)
    else:
        rows = _postgres_candidates(conn, site_id, languages, probes, limit)
    return [(r.id, r.question, r.language, r.answer, r.terms or "{}") for r in rows]


def _trigrams(probes: Sequence[str]) -> list[str]:
    grams: dict[str, None] = {}
    for probe in probes:
        for i in range(len(probe) - 2):
            grams[probe[i:i + 3]] = None
    return list(grams)[:120]


def _sqlite_candidates(
    conn: Connection, site_id: int, languages: Sequence[str] | None, probes: Sequence[str], limit: int
) -> Sequence[Any]:
    # Each trigram a phrase ("" escapes a quote); OR: an article sharing more, and rarer,
    # trigrams ranks higher (FTS5's bm25 rank), so a typo loses one or two and still comes
    # first. Written out: the planner keeps the FTS scan first and ranks once (measured:
    # 2 ms at 1,000 articles; 13 ms as the ORM had joined it).
    match = " OR ".join('"' + g.replace('"', '""') + '"' for g in _trigrams(probes))
    if not match:
        return []
    languages_sql = "AND a.language IN :languages" if languages is not None else ""
    statement = text(
        "SELECT a.id, a.question, a.language, a.answer, a.terms FROM "
        "(SELECT rowid AS id, rank FROM faq_search WHERE faq_search MATCH :match ORDER BY rank) AS hits "
        "JOIN faq_articles AS a ON a.id = hits.id "
        f"WHERE a.site_id = :site_id AND a.published {languages_sql} ORDER BY hits.rank LIMIT :limit"
    )
    params: dict[str, Any] = {"match": match, "site_id": site_id, "limit": limit}
    if languages is not None:
        statement = statement.bindparams(bindparam("languages", expanding=True))
        params["languages"] = list(languages)
    return conn.execute(statement, params).all()


def _postgres_candidates(
    conn: Connection, site_id: int, languages: Sequence[str] | None, probes: Sequence[str], limit: int
) -> Sequence[Any]:
    # The articles sharing the probes' trigrams, each trigram weighted by how rare it is
    # among them (log N/df, N the site's articles), occurrences damped (1 + ln hits): FTS5's
    # bm25 in one GROUP BY, from one index range scan per trigram.
    grams = _trigrams(probes)
    if not grams:
        return []
    # Arrays, not IN-lists: the statement's text stays the same, so the driver's prepared
    # statement is reused (planning it took 4 ms, running it 1.7 ms, at 1,000 articles).
    statement = text(
        "WITH m AS (SELECT article_id, trigram, hits FROM faq_trigrams "
        "           WHERE site_id = :site_id AND trigram = ANY(CAST(:grams AS text[]))), "
        "df AS (SELECT trigram, count(*) AS n FROM m GROUP BY trigram), "
        "total AS (SELECT count(*) + 1 AS n FROM faq_articles WHERE site_id = :site_id), "
        "hits AS (SELECT m.article_id, sum((1 + ln(m.hits)) * ln(total.n / df.n::float)) AS score "
        "         FROM m JOIN df ON df.trigram = m.trigram CROSS JOIN total GROUP BY m.article_id) "
        "SELECT a.id, a.question, a.language, a.answer, a.terms FROM hits "
        "JOIN faq_articles AS a ON a.id = hits.article_id "
        "WHERE a.published AND (CAST(:any_language AS boolean) OR a.language = ANY(CAST(:languages AS text[]))) "
        "ORDER BY hits.score DESC, a.id LIMIT :limit"
    )
    params = {"site_id": site_id, "limit": limit, "grams": grams, "any_language": languages is None,
              "languages": list(languages or [])}
    return conn.execute(statement, params).all()


def optimize_search_index(conn: Connection) -> None:
    """After a bulk change (an import): SQLite merges the FTS5 index's segments (one per
    insert until then; measured at 1,000 articles: a search's query from 3.5 to 1.8 ms of
    CPU), PostgreSQL refreshes the planner's statistics of the trigram table."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO faq_search(faq_search) VALUES ('optimize')"))
    else:
        conn.execute(text("ANALYZE faq_trigrams"))


# ---- gaps

def record_gap(
    conn: Connection, site_id: int, kind: str, language: str, query: str, query_key: str, article_id: int = 0
) -> None:
    """Count one more of this gap (an upsert: concurrent nodes add up, never duplicate)."""
    now = utcnow()
    values = dict(site_id=site_id, kind=kind, language=language, query=query, query_key=query_key,
                  article_id=article_id, count=1, first_at=now, last_at=now)
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.postgresql import insert as upsert  # type: ignore[assignment]
    statement = upsert(faq_gaps).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "kind", "language", "query_key", "article_id"],
        set_={"count": faq_gaps.c.count + 1, "last_at": now, "query": query},
    )
    conn.execute(statement)


def list_gaps(conn: Connection, site_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
    query = (
        select(faq_gaps, faq_articles.c.question.label("article_question"))
        .join_from(faq_gaps, faq_articles, faq_articles.c.id == faq_gaps.c.article_id, isouter=True)
        .where(faq_gaps.c.site_id == site_id)
        .order_by(faq_gaps.c.count.desc(), faq_gaps.c.last_at.desc())
        .limit(limit)
    )
    return [
        {"kind": r.kind, "language": r.language, "query": r.query, "query_key": r.query_key,
         "article_id": r.article_id or None, "article_question": r.article_question, "count": r.count,
         "last_at": iso(r.last_at)}
        for r in conn.execute(query)
    ]
