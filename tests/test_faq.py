"""FAQ: the answer sanitiser, the search's language tools, and search quality on a small
multilingual fixture on both backends (the full one is bench/faq.py)."""

from __future__ import annotations

import asyncio
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import pytest

from server.cli import opened
from server.errors import Invalid, TooLarge
from server.services import sites
from server.services.faq import render_answer, snippet
from server.services.faq_search import kazakh_stem, readings, transliterate, Analyzers
from server.store.sites import Site
from tests.factories import settings_for
from tests.servers import ServerProcess

FIXTURE = json.loads((Path(__file__).parent.parent / "bench" / "faq_fixture.json").read_text(encoding="utf-8"))
# The small fixture: six topics, two of them alike (delivery, its address), in four languages.
TOPICS = ("delivery", "payment", "returns", "warranty", "address", "hours")
QUERIES = [q for q in FIXTURE["queries"] if q[3] in TOPICS]


# ---- the sanitiser

@pytest.mark.parametrize("markdown", [
    "<script>alert(1)</script>",
    "Hello <img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "![x](javascript:alert(1))",
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
])
def test_the_answer_html_has_no_script_handlers_or_javascript_links(markdown: str) -> None:
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, attrs))

    Collect().feed(render_answer(markdown))
    for tag, attrs in tags:  # what a browser would build: text that looks like a tag is text
        assert tag in {"p", "a", "div", "code", "pre"}, tag
        for name, value in attrs:
            assert not name.startswith("on") and name != "style" and name != "src", name
            if name == "href":
                assert (value or "").split(":", 1)[0].lower() in ("http", "https", "mailto", "tel"), value


def test_the_answer_keeps_plain_formatting_and_safe_links() -> None:
    html = render_answer("**Free** delivery, see [rates](https://shop.example/rates) or [mail](mailto:a@b.example)\n\n- one\n- two")
    assert "<strong>Free</strong>" in html and "<li>one</li>" in html
    assert 'href="https://shop.example/rates"' in html and 'href="mailto:a@b.example"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_the_snippet_is_plain_text() -> None:
    assert snippet("**Bold** and [a link](https://x.example)") == "Bold and a link https://x.example"
    assert len(snippet("word " * 100)) <= 160


# ---- the language tools

def test_kazakh_endings_are_stripped_to_one_stem() -> None:
    assert kazakh_stem("жеткізу") == kazakh_stem("жеткізіледі") == "жеткіз"
    assert kazakh_stem("тапсырыстар") == kazakh_stem("тапсырысты") == "тапсырыс"
    assert kazakh_stem("ақша") == "ақша"  # a short word keeps its stem


def test_latin_transliteration_and_wrong_layouts_are_read_both_ways() -> None:
    assert transliterate("dostavka") == "доставка"
    texts = [" ".join(forms[0] for forms in r.words) for r in readings("ljcnfdrf", Analyzers())]
    assert "доставка" in texts
    texts = [" ".join(forms[0] for forms in r.words) for r in readings("вудшмукн", Analyzers())]
    assert "delivery" in texts
    texts = [" ".join(forms[0] for forms in r.words) for r in readings(";tnr3pe", Analyzers())]
    assert "жеткізу" in texts  # the Kazakh layout's letters on the number row


# ---- search quality, on both backends

@pytest.fixture(scope="module")
def faq_site(server: ServerProcess) -> Iterator[tuple[ServerProcess, Site, dict[int, str]]]:
    async def seed() -> tuple[Site, dict[int, str]]:
        async with opened(settings_for(server)) as state:
            site = await sites.create_site(state.writer, "FAQ quality", ["http://faq.test"], allow_duplicate_name=True)
            topics = {}
            for topic in TOPICS:
                for lang, (question, answer, category, phrasings) in FIXTURE["articles"][topic].items():
                    article, done = await state.faq.save(site, {
                        "lang": lang, "question": question, "answer": answer, "category": category,
                        "phrasings": phrasings})
                    assert done == "created"
                    topics[article.id] = topic
            return site, topics

    site, topics = asyncio.run(seed())
    yield server, site, topics


async def _search(server: ServerProcess, site: Site, query: str, lang: str | None) -> list[dict[str, Any]]:
    async with opened(settings_for(server)) as state:
        return await state.faq.search(site, query, lang)


async def test_each_kind_of_question_finds_its_article_in_every_language(
    faq_site: tuple[ServerProcess, Site, dict[int, str]],
) -> None:
    server, site, topics = faq_site
    misses = []
    async with opened(settings_for(server)) as state:
        for lang, kind, query, topic in QUERIES:
            results = await state.faq.search(site, query, lang)
            found = [topics[r["id"]] for r in results[:3]]
            if topic not in found:
                misses.append((lang, kind, query, topic, found))
            elif results[0]["lang"] != lang:
                misses.append((lang, kind, query, "answered in another language", results[0]["lang"]))
    assert len({q[0] for q in QUERIES}) == 4 and len({q[1] for q in QUERIES}) == 5
    assert misses == []


async def test_results_are_best_first_with_question_snippet_and_score(
    faq_site: tuple[ServerProcess, Site, dict[int, str]],
) -> None:
    server, site, topics = faq_site
    results = await _search(server, site, "адрес доставки изменить", "ru")
    assert [topics[r["id"]] for r in results[:1]] == ["address"]
    assert set(results[0]) == {"id", "question", "snippet", "score", "lang"}
    assert results[0]["question"] == "Как изменить адрес доставки?"
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    assert await _search(server, site, "zzzz qqqq", "ru") == []
    assert await _search(server, site, "", "ru") == []


async def test_a_language_without_articles_falls_back_to_the_others(server: ServerProcess) -> None:
    async with opened(settings_for(server)) as state:
        site = await sites.create_site(state.writer, "FAQ only Russian", ["http://ru.test"], allow_duplicate_name=True)
        question, answer, category, phrasings = FIXTURE["articles"]["delivery"]["ru"]
        await state.faq.save(site, {"lang": "ru", "question": question, "answer": answer})
        results = await state.faq.search(site, "доставка", "kk")
        assert [r["lang"] for r in results] == ["ru"]


async def test_saving_the_same_question_again_updates_it(server: ServerProcess) -> None:
    async with opened(settings_for(server)) as state:
        site = await sites.create_site(state.writer, "FAQ updates", ["http://up.test"], allow_duplicate_name=True)
        first, done = await state.faq.save(site, {"lang": "en", "question": "Do you ship abroad?", "answer": "No."})
        assert done == "created"
        again, done = await state.faq.save(site, {"lang": "en", "question": "Do you ship abroad?", "answer": "No."})
        assert done == "unchanged" and again.id == first.id
        again, done = await state.faq.save(site, {"lang": "en", "question": "do you ship  abroad", "answer": "No."})
        assert done == "updated" and again.id == first.id  # the same question, spelt otherwise
        changed, done = await state.faq.save(site, {"lang": "en", "question": "Do you ship abroad?",
                                                    "answer": "Yes, to Kazakhstan."})
        assert done == "updated" and changed.id == first.id
        assert "Kazakhstan" in changed.answer_html
        other, done = await state.faq.save(site, {"lang": "ru", "question": "Do you ship abroad?", "answer": "Нет."})
        assert done == "created" and other.id != first.id
        assert len(await state.faq.articles(site)) == 2
        hidden = await state.faq.set_published(site, first.id, False)
        assert not hidden.published
        assert [r["lang"] for r in await state.faq.search(site, "ship abroad", "en")] == ["ru"]


async def test_bad_articles_and_queries_are_refused_naming_the_field(server: ServerProcess) -> None:
    async with opened(settings_for(server)) as state:
        site = await sites.create_site(state.writer, "FAQ invalid", ["http://bad.test"], allow_duplicate_name=True)
        for data, field in [
            ({"lang": "xx", "question": "Q", "answer": "A"}, "lang"),
            ({"lang": "en", "question": " ", "answer": "A"}, "question"),
            ({"lang": "en", "question": "Q", "answer": None}, "answer"),
            ({"lang": "en", "question": "Q" * 301, "answer": "A"}, "question"),
            ({"lang": "en", "question": "Q", "answer": "A", "order": "first"}, "order"),
        ]:
            with pytest.raises((Invalid, TooLarge)) as caught:
                await state.faq.save(site, data)
            assert caught.value.field == field
        with pytest.raises(TooLarge):
            await state.faq.search(site, "q" * 201, "en")
        with pytest.raises(Invalid):
            await state.faq.search(site, "q", "xx")
        assert await state.faq.articles(site) == []
