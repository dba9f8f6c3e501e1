"""The FAQ: articles per site (managed in the console, imported and exported by the CLI),
the visitors' search, and what the FAQ lacks (searches with no answer, "did not help").

Answers are Markdown, rendered once when saved to HTML that nh3 has cleaned: no script,
no event handlers, no ``javascript:`` links. That HTML is the only HTML the widget inserts.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import Invalid, NotFound, TooLarge
from ..locales import LANGUAGES
from ..store import faq as store
from ..store.db import Database
from ..store.faq import Article
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from . import fields
from .faq_search import Analyzers, Candidate, Ranked, probe_terms, rank, readings, words

QUESTION_MAX_CHARS = 300
ANSWER_MAX_CHARS = 20_000
CATEGORY_MAX_CHARS = 100
PHRASINGS_MAX = 20
QUERY_MAX_CHARS = 200
RESULTS_MAX = 10
SNIPPET_CHARS = 160
GAP_KINDS = ("no_result", "unhelpful")

_TAGS = {"p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "a",
         "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td", "s", "del"}
def render_answer(markdown: str) -> str:
    """Markdown → HTML safe to insert into a page: raw HTML in the Markdown is shown as
    text, and nh3 keeps only plain formatting and http(s)/mailto/tel links. (Imported
    here: only saving an article needs them, not every server start.)"""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough").render(markdown)
    return nh3.clean(
        html, tags=_TAGS, attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto", "tel"}, link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


def question_key(question: str) -> str:
    """The question folded (case, spaces, punctuation): what makes two the same question."""
    return " ".join(words(question))[:QUESTION_MAX_CHARS] or question.strip().lower()[:QUESTION_MAX_CHARS]


_MARKUP = re.compile(r"[`*_#>\[\]()|~-]+")


def snippet(markdown: str, limit: int = SNIPPET_CHARS) -> str:
    plain = " ".join(_MARKUP.sub(" ", markdown).split())
    return plain if len(plain) <= limit else plain[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class ArticleInput:
    """A checked article, ready to store."""

    language: str
    question: str
    answer: str
    category: str
    position: int
    published: bool
    phrasings: tuple[str, ...]


def check_article(data: Mapping[str, Any]) -> ArticleInput:
    """Validate an article as typed in the console or read from an import file."""
    language = data.get("lang", data.get("language"))
    if language not in LANGUAGES:
        raise Invalid(field="lang", value=str(language)[:20])
    question = fields.text(data.get("question"), "question", max_chars=QUESTION_MAX_CHARS)
    answer = fields.text(data.get("answer"), "answer", max_chars=ANSWER_MAX_CHARS)
    category = fields.text(data.get("category"), "category", max_chars=CATEGORY_MAX_CHARS, required=False) or ""
    order = data.get("order", data.get("position", 0))
    if isinstance(order, str) and order.strip().lstrip("-").isdigit():
        order = int(order.strip())
    if order in (None, ""):
        order = 0
    if isinstance(order, bool) or not isinstance(order, int) or not -1_000_000 <= order <= 1_000_000:
        raise Invalid(field="order")
    published = data.get("published", True)
    if isinstance(published, str):
        published = published.strip().lower() not in ("0", "false", "no", "off", "")
    raw_phrasings = data.get("phrasings") or []
    if isinstance(raw_phrasings, str):
        raw_phrasings = [line for line in raw_phrasings.splitlines()]
    if not isinstance(raw_phrasings, list):
        raise Invalid(field="phrasings")
    phrasings: dict[str, None] = {}
    for item in raw_phrasings:
        checked = fields.text(item, "phrasings", max_chars=QUESTION_MAX_CHARS, required=False)
        if checked:
            phrasings[checked] = None
    if len(phrasings) > PHRASINGS_MAX:
        raise TooLarge(field="phrasings", max=PHRASINGS_MAX)
    assert question is not None and answer is not None
    return ArticleInput(language, question, answer, category, order, bool(published), tuple(phrasings))


class Faq:
    """The FAQ of every site, as one app holds it: the analyzers (loaded once, used from
    worker threads) and the operations."""

    def __init__(self, db: Database, writer: GroupWriter) -> None:
        self.db = db
        self.writer = writer
        self.analyzers = Analyzers()

    def _indexed(self, article: ArticleInput) -> dict[str, Any]:
        title = self.analyzers.index_terms(" ".join((article.question, *article.phrasings)), article.language)
        body = [t for t in self.analyzers.index_terms(f"{article.answer} {article.category}", article.language)
                if t not in title]
        return {
            "answer_html": render_answer(article.answer),
            "terms": {"t": title, "b": body},
            # Question terms twice: the candidate index weighs them above the answer's.
            "search_terms": " ".join(title + title + body),
        }

    async def save(self, site: Site, data: Mapping[str, Any], article_id: int | None = None) -> tuple[Article, str]:
        """Create or update an article: with ``article_id`` that one; else the one with the
        same question and language (so importing again updates), else a new one.
        Returns it and what was done: created, updated or unchanged."""
        article = check_article(data)
        indexed = await asyncio.to_thread(self._indexed, article)
        key = question_key(article.question)
        values = dict(language=article.language, question=article.question, question_key=key,
                      answer=article.answer, category=article.category, position=article.position,
                      published=article.published, phrasings=article.phrasings, **indexed)

        def job(tx: Tx) -> tuple[Article, str]:
            same = store.get_article_by_question(tx.conn, site.id, article.language, key)
            if article_id is not None:
                existing = store.get_article(tx.conn, article_id, site.id)
                if existing is None:
                    raise NotFound(field="article")
                if same is not None and same.id != article_id:
                    raise Invalid("exists", field="question")
            else:
                existing = same
            if existing is None:
                return store.insert_article(tx.conn, site_id=site.id, **values), "created"
            if _same_content(existing, article):
                return existing, "unchanged"
            return store.update_article(tx.conn, existing.id, **values), "updated"

        return await self.writer.run(job)

    async def optimize(self) -> None:
        """Compact the search index after many changes at once (an import)."""
        await self.writer.run(lambda tx: store.optimize_search_index(tx.conn))

    async def set_published(self, site: Site, article_id: int, published: bool) -> Article:
        def job(tx: Tx) -> Article:
            if store.get_article(tx.conn, article_id, site.id) is None:
                raise NotFound(field="article")
            return store.update_article(tx.conn, article_id, published=published)

        return await self.writer.run(job)

    async def delete(self, site: Site, article_id: int) -> None:
        def job(tx: Tx) -> None:
            if store.get_article(tx.conn, article_id, site.id) is None:
                raise NotFound(field="article")
            store.delete_article(tx.conn, article_id)

        await self.writer.run(job)

    async def has_published(self, site: Site) -> bool:
        return site.id in await self.db.read(lambda conn: store.has_published(conn, [site.id]))

    async def articles(self, site: Site) -> list[Article]:
        return await self.db.read(lambda conn: store.list_articles(conn, site.id))

    async def article(self, site: Site, article_id: int, *, published_only: bool = True) -> Article:
        found = await self.db.read(lambda conn: store.get_article(conn, article_id, site.id))
        if found is None or (published_only and not found.published):
            raise NotFound(field="article")
        return found

    # ---- search

    async def search(self, site: Site, query: Any, lang: str | None, *, limit: int = RESULTS_MAX) -> list[dict[str, Any]]:
        """The published articles that answer ``query``, best first. Articles in ``lang``
        when the site has any there (and one answers); else in any language."""
        if not isinstance(query, str):
            raise Invalid(field="q")
        if len(query) > QUERY_MAX_CHARS:
            raise TooLarge(field="q", max=QUERY_MAX_CHARS)
        if lang is not None and lang not in LANGUAGES:
            raise Invalid(field="lang")
        reads = await asyncio.to_thread(readings, query, self.analyzers)
        probes = probe_terms(reads)
        if not probes:
            return []

        # The database finds candidates (on PostgreSQL on the event loop, waiting on I/O);
        # parsing and ranking them is CPU: in a worker thread.
        def candidates(conn: Any) -> tuple[list[Any], list[Any]]:
            in_lang: list[Any] = []
            if lang is not None and lang in store.published_languages(conn, site.id):
                in_lang = store.search_candidates(conn, site.id, [lang], probes)
            others = [] if in_lang else store.search_candidates(conn, site.id, None, probes)
            return in_lang, others

        def ranked_of(rows: list[Any]) -> list[Ranked]:
            return rank(reads, _candidates(rows), limit=limit)

        in_lang, others = await self.db.read(candidates)
        ranked = await asyncio.to_thread(ranked_of, in_lang) if in_lang else []
        if not ranked:
            if not others and in_lang:  # nothing in the visitor's language answers: any language
                others = await self.db.read(lambda conn: store.search_candidates(conn, site.id, None, probes))
            ranked = await asyncio.to_thread(ranked_of, others)
        return [_result(r) for r in ranked]

    def search_sync(self, conn: Any, site_id: int, query: str, lang: str | None, *,
                    limit: int = RESULTS_MAX) -> list[Ranked]:
        """The same search in one thread on one connection (the benchmark's and tests' probe)."""
        reads = readings(query, self.analyzers)
        probes = probe_terms(reads)
        ranked: list[Ranked] = []
        if lang is not None and lang in store.published_languages(conn, site_id):
            ranked = rank(reads, _candidates(store.search_candidates(conn, site_id, [lang], probes)), limit=limit)
        if not ranked:
            ranked = rank(reads, _candidates(store.search_candidates(conn, site_id, None, probes)), limit=limit)
        return ranked

    # ---- what the FAQ lacks

    async def record_gap(self, site: Site, kind: str, query: str, lang: str | None, article_id: int = 0) -> None:
        clean = " ".join(query.split())[:QUERY_MAX_CHARS]
        key = " ".join(words(clean))[:QUERY_MAX_CHARS]
        if kind not in GAP_KINDS or len(key) < 3:
            return
        await self.writer.run(lambda tx: store.record_gap(tx.conn, site.id, kind, lang or "", clean, key, article_id))

    async def vote(self, site: Site, article_id: int, helpful: Any, query: Any, lang: str | None) -> None:
        """A visitor's "did this help?": counted on the article; a "no" with the query
        they searched also lands among the gaps."""
        if not isinstance(helpful, bool):
            raise Invalid(field="helpful")
        text = fields.text(query, "query", max_chars=QUERY_MAX_CHARS, required=False) or ""
        article = await self.article(site, article_id)

        def job(tx: Tx) -> None:
            store.count_votes(tx.conn, article.id, helpful)
            key = " ".join(words(text))[:QUERY_MAX_CHARS] or question_key(article.question)
            if not helpful:
                store.record_gap(tx.conn, site.id, "unhelpful", lang or article.language, text or article.question,
                                 key, article.id)

        await self.writer.run(job)

    async def gaps(self, site: Site) -> list[dict[str, Any]]:
        """What visitors asked that the FAQ did not answer, most asked first. A search
        typed letter by letter leaves its beginnings too: a query that begins another
        one of the same kind and language is folded into it."""
        rows = await self.db.read(lambda conn: store.list_gaps(conn, site.id))
        longer: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            longer.setdefault((row["kind"], row["language"]), []).append(row["query_key"])
        return [
            row for row in rows
            if row["kind"] != "no_result" or not any(
                other != row["query_key"] and other.startswith(row["query_key"])
                for other in longer[(row["kind"], row["language"])]
            )
        ]


def _same_content(existing: Article, article: ArticleInput) -> bool:
    return (existing.question, existing.answer, existing.category, existing.position, existing.published,
            existing.phrasings) == (article.question, article.answer, article.category, article.position,
                                    article.published, article.phrasings)


def _candidates(rows: Sequence[tuple[int, str, str, str, str]]) -> list[Candidate]:
    out = []
    for r in rows:
        terms = json.loads(r[4])
        out.append(Candidate(id=r[0], question=r[1], language=r[2], answer=r[3],
                             title_terms=tuple(terms.get("t", ())), body_terms=tuple(terms.get("b", ()))))
    return out


def _result(ranked: Ranked) -> dict[str, Any]:
    c = ranked.candidate
    return {"id": c.id, "question": c.question, "snippet": snippet(c.answer), "score": ranked.score,
            "lang": c.language}
