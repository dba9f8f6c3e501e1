"""FAQ search quality and speed, on SQLite and PostgreSQL.

    python bench/faq.py [--articles 1000] [--backend sqlite|postgres|both] [--runs 3]

The fixture (bench/faq_fixture.json): a shop's FAQ in en/ru/uk/kk and questions a visitor
types, each with the article that answers it and its kind: another word form, a typo,
the wrong keyboard layout, other words (paraphrase), Latin transliteration. The site
gets filler articles up to --articles (questions about products, in all four languages,
sharing words with the real ones), so the real ones have to win against many.

Reports recall@1 and recall@3 per language and per kind, and the latency of one search
(readings, candidate query, ranking; p50/p99 over every query, --runs times) as the
service runs it, through the one store function.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.services import sites  # noqa: E402
from server.services.faq import Faq  # noqa: E402
from server.store import migrate  # noqa: E402
from server.store.db import Database  # noqa: E402
from server.store.writer import GroupWriter  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "faq_fixture.json").read_text(encoding="utf-8"))

# Filler: "<product> <question>" in each language, products and questions mixed at random.
_PRODUCTS = {
    "en": ["phone", "laptop", "kettle", "backpack", "jacket", "headphones", "vacuum cleaner", "coffee machine",
           "bicycle", "monitor", "sneakers", "watch", "tablet", "camera", "blender", "lamp", "chair", "tent"],
    "ru": ["телефон", "ноутбук", "чайник", "рюкзак", "куртка", "наушники", "пылесос", "кофемашина", "велосипед",
           "монитор", "кроссовки", "часы", "планшет", "фотоаппарат", "блендер", "лампа", "стул", "палатка"],
    "uk": ["телефон", "ноутбук", "чайник", "рюкзак", "куртка", "навушники", "пилосос", "кавоварка", "велосипед",
           "монітор", "кросівки", "годинник", "планшет", "фотоапарат", "блендер", "лампа", "стілець", "намет"],
    "kk": ["телефон", "ноутбук", "шәйнек", "рюкзак", "күртеше", "құлаққап", "шаңсорғыш", "кофемашина", "велосипед",
           "монитор", "кроссовка", "сағат", "планшет", "фотоаппарат", "блендер", "шам", "орындық", "шатыр"],
}
_QUESTIONS = {
    "en": ["What colours does the {} come in?", "Is the {} in stock?", "What size is the {}?",
           "How do I clean the {}?", "Does the {} come with instructions?", "What is the {} made of?",
           "How heavy is the {}?", "Can I buy the {} as a gift?", "Is the {} suitable for children?"],
    "ru": ["В каких цветах бывает {}?", "Есть ли {} в наличии?", "Какой размер у товара {}?",
           "Как чистить {}?", "Есть ли инструкция к товару {}?", "Из чего сделан {}?", "Сколько весит {}?",
           "Можно ли купить {} в подарок?", "Подходит ли {} детям?"],
    "uk": ["У яких кольорах буває {}?", "Чи є {} в наявності?", "Який розмір має {}?", "Як чистити {}?",
           "Чи є інструкція до товару {}?", "З чого зроблено {}?", "Скільки важить {}?",
           "Чи можна купити {} у подарунок?", "Чи підходить {} дітям?"],
    "kk": ["{} қандай түстерде болады?", "{} қоймада бар ма?", "{} өлшемі қандай?", "{} қалай тазалау керек?",
           "{} нұсқаулығы бар ма?", "{} неден жасалған?", "{} салмағы қанша?", "{} сыйлыққа сатып алуға бола ма?",
           "{} балаларға жарай ма?"],
}
_FILLER_ANSWERS = {
    "en": "See the product page: the {} is described there in detail, with photos and reviews of our customers.",
    "ru": "Смотрите страницу товара: {} описан там подробно, с фотографиями и отзывами покупателей.",
    "uk": "Дивіться сторінку товару: {} описано там докладно, з фотографіями та відгуками покупців.",
    "kk": "Тауар бетін қараңыз: {} туралы толық сипаттама, суреттер мен сатып алушылардың пікірлері бар.",
}


def filler(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pairs = [(lang, p, q) for lang in _PRODUCTS for p in _PRODUCTS[lang] for q in _QUESTIONS[lang]]
    rng.shuffle(pairs)
    out = []
    for i in range(count):
        lang, product, question = pairs[i % len(pairs)]
        suffix = "" if i < len(pairs) else f" ({i // len(pairs) + 1})"
        out.append({"lang": lang, "question": question.format(product) + suffix,
                    "answer": _FILLER_ANSWERS[lang].format(product), "category": "Products"})
    return out


def real_articles() -> list[dict[str, Any]]:
    out = []
    for topic, by_lang in FIXTURE["articles"].items():
        for lang, (question, answer, category, phrasings) in by_lang.items():
            out.append({"topic": topic, "lang": lang, "question": question, "answer": answer,
                        "category": category, "phrasings": phrasings})
    return out


async def build(url: str, articles: int) -> tuple[Database, GroupWriter, Faq, int, dict[int, str]]:
    db = Database(url)
    await migrate.upgrade(db)
    writer = GroupWriter(db)
    writer.start()
    faq = Faq(db, writer)
    site = await sites.create_site(writer, "FAQ bench", ["https://shop.example"], allow_duplicate_name=True)
    topics: dict[int, str] = {}
    real = real_articles()
    for item in real:
        article, _ = await faq.save(site, item)
        topics[article.id] = item["topic"]
    for item in filler(max(0, articles - len(real))):
        await faq.save(site, item)
    await faq.optimize()  # as `frontdesk faq import` does after an import
    return db, writer, faq, site.id, topics


def evaluate(faq: Faq, db: Database, site_id: int, topics: dict[int, str], runs: int) -> dict[str, Any]:
    assert db.sync_engine is not None or db.engine is not None
    hits: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    misses: list[str] = []
    latencies: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: the cost, whatever else the machine runs

    def run(conn: Any) -> None:
        for run_no in range(runs):
            for lang, kind, query, topic in FIXTURE["queries"]:
                started, started_cpu = time.perf_counter(), time.thread_time()
                ranked = faq.search_sync(conn, site_id, query, lang, limit=3)
                latencies.append((time.perf_counter() - started) * 1000)
                cpu.append((time.thread_time() - started_cpu) * 1000)
                if run_no:
                    continue
                found = [topics.get(r.candidate.id) for r in ranked]
                hit1, hit3 = found[:1] == [topic], topic in found[:3]
                hits.setdefault((lang, kind), []).append((hit1, hit3))
                if not hit1:
                    misses.append(f"{lang} {kind} {query!r}: want {topic}, got {found}")

    return {"hits": hits, "misses": misses, "latencies": latencies, "cpu": cpu, "run": run}


def report(name: str, result: dict[str, Any]) -> None:
    hits, latencies = result["hits"], sorted(result["latencies"])

    def recall(rows: list[tuple[bool, bool]]) -> str:
        return f"{sum(h1 for h1, _ in rows) / len(rows):.2f} / {sum(h3 for _, h3 in rows) / len(rows):.2f}"

    print(f"\n{name}: recall@1 / recall@3")
    for lang in ("en", "ru", "uk", "kk"):
        rows = [r for (lg, _), rs in hits.items() if lg == lang for r in rs]
        kinds = ", ".join(f"{kind} {recall(rs)}" for (lg, kind), rs in hits.items() if lg == lang)
        print(f"  {lang}: {recall(rows)}  ({kinds})")
    for kind in ("form", "typo", "layout", "paraphrase", "translit"):
        rows = [r for (_, k), rs in hits.items() if k == kind for r in rs]
        print(f"  {kind}: {recall(rows)}")
    every = [r for rs in hits.values() for r in rs]
    print(f"  all {len(every)} queries: {recall(every)}")
    for label, values in (("latency", latencies), ("CPU time of this process", sorted(result["cpu"]))):
        p50 = statistics.median(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(f"  {label} per search: p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(values)} searches)")
    if hasattr(os, "getloadavg"):
        print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for line in result["misses"]:
        print("  miss@1:", line)


async def bench(name: str, url: str, articles: int, runs: int) -> None:
    db, writer, faq, site_id, topics = await build(url, articles)
    try:
        result = evaluate(faq, db, site_id, topics, runs)
        await db.read(lambda conn: faq.search_sync(conn, site_id, "warm up", "en"))  # loads the analyzers
        await db.read(result["run"])
        report(f"{name}, {articles} articles", result)
    finally:
        await writer.stop()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                asyncio.run(bench(backend, f"sqlite:///{tmp}/faq.db", args.articles, args.runs))
            continue
        sys.path.insert(0, str(ROOT / "tests"))
        from servers import create_scratch_database, drop_database  # a scratch database, dropped after

        url, db_name = create_scratch_database()
        try:
            asyncio.run(bench(backend, url, args.articles, args.runs))
        finally:
            drop_database(db_name)


if __name__ == "__main__":
    main()
