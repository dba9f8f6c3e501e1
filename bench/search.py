"""Search speed: the console's lead search on 100,000 messages, on SQLite and PostgreSQL.

    .venv/bin/python bench/search.py [--messages 100000] [--leads 10000] [--repeat 20]
        [--backend sqlite|postgres|both] [--pg-url postgresql://postgres@127.0.0.1:5432/test]

Seeds a fresh database (SQLite in a temporary directory; on PostgreSQL a scratch database
created and dropped on the server --pg-url names) through the migrations: three sites
(default countries KZ, RU, UA), ``--leads`` leads with Russian, Ukrainian, Kazakh and English
names, emails and phones, statuses, owners and tags, and ``--messages`` chat messages in
those four languages, plus private notes in conversations and on leads (the latter from a
random source of their own, so the rest is the same data as before they were added). Then
runs each kind of query ``--repeat`` times
through services/search.py (what the Leads page runs: parsing, the store function, a page
of 25 with snippets' messages), after one untimed run of each (a running server has
compiled and prepared its statements), and prints p50 / p99 per kind, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from server.security import Signer  # noqa: E402
from server.services import operators, phones, search, sites  # noqa: E402
from server.store import migrate, schema  # noqa: E402
from server.store.db import Database, utcnow  # noqa: E402
from server.store.writer import GroupWriter  # noqa: E402

NAMES = {
    "ru": (["Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Дмитрий", "Алексей", "Сергей", "Андрей", "Иван",
            "Михаил"], ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков",
                        "Морозов"]),
    "uk": (["Олена", "Оксана", "Наталія", "Тетяна", "Андрій", "Олександр", "Богдан", "Тарас", "Микола", "Ярослав"],
           ["Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Мельник", "Бойко", "Олійник"]),
    "kk": (["Айгерім", "Ерлан", "Асель", "Нұрлан", "Дана", "Бауыржан", "Жанар", "Айдос", "Гүлнар", "Мақсат"],
           ["Әбілов", "Серікбаев", "Нұрланов", "Жұмабаев", "Омаров", "Тоқтаров", "Сейітов"]),
    "en": (["John", "Emma", "Oliver", "Sophia", "James", "Amelia", "William", "Olivia"],
           ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker"]),
}
LATIN = {"ru": "ivanov", "uk": "kovalenko", "kk": "abilov", "en": "smith"}
TEMPLATES = {
    "ru": ["Здравствуйте, сколько стоит {item} с доставкой в {city}?", "Когда будет готов заказ номер {n}?",
           "Можно оплатить {item} картой или только наличными?", "Спасибо, жду звонка по поводу {item}",
           "У вас есть {item} в наличии? Нужно {n} штук", "Подскажите сроки доставки в {city}, пожалуйста",
           "Доставка бесплатная при заказе от {n} тенге", "Хочу вернуть {item}, он пришёл с браком",
           "Менеджер перезвонит вам в течение часа", "Какие скидки действуют на {item} сейчас?"],
    "uk": ["Добрий день, скільки коштує {item} з доставкою до {city}?", "Коли буде готове замовлення номер {n}?",
           "Чи можна оплатити {item} карткою?", "Дякую, чекаю на дзвінок щодо {item}",
           "Чи є {item} в наявності? Потрібно {n} штук", "Підкажіть терміни доставки до {city}, будь ласка"],
    "kk": ["Сәлеметсіз бе, {item} қанша тұрады, {city} қаласына жеткізу бар ма?", "{n} нөмірлі тапсырыс қашан дайын болады?",
           "{item} картамен төлеуге бола ма?", "Рахмет, {item} туралы қоңырау күтемін",
           "{item} бар ма? {n} дана керек", "{city} қаласына жеткізу мерзімін айтыңызшы"],
    "en": ["Hello, how much is the {item} with delivery to {city}?", "When will order number {n} be ready?",
           "Can I pay for the {item} by card?", "Thanks, waiting for your call about the {item}",
           "Do you have the {item} in stock? I need {n} pieces", "What are your delivery times to {city}?"],
}
ITEMS = {
    "ru": ["диван", "кофемашина", "холодильник", "ноутбук", "велосипед", "кресло", "чайник", "телевизор"],
    "uk": ["диван", "кавоварка", "холодильник", "ноутбук", "велосипед", "крісло", "чайник", "телевізор"],
    "kk": ["диван", "кофе машинасы", "тоңазытқыш", "ноутбук", "велосипед", "орындық", "шәйнек", "теледидар"],
    "en": ["sofa", "coffee machine", "fridge", "laptop", "bicycle", "armchair", "kettle", "TV"],
}
CITIES = ["Алматы", "Астана", "Шымкент", "Москва", "Казань", "Київ", "Львів", "Одеса", "Караганда", "London"]
PREFIX = {"KZ": ["+7701", "+7702", "+7705", "+7747", "+7777"], "RU": ["+7916", "+7903", "+7925"],
          "UA": ["+38067", "+38050", "+38063"]}
STATUSES = ("new", "contacted", "qualified", "won", "lost")
LEAD_NOTES = ("Просил коммерческое предложение на оптовую партию", "Хоче гуртову знижку, зателефонувати у вівторок",
              "Wants a quote for the whole office", "Көтерме бағасын сұрады")
TAGS = ("vip", "wholesale", "repeat", "b2b")


def _phone(rng: random.Random, country: str) -> str:
    prefix = rng.choice(PREFIX[country])
    return prefix + "".join(rng.choice("0123456789") for _ in range(12 - len(prefix) + (1 if country == "UA" else 0)))


async def seed(url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(16)
    lead_note_rng = random.Random(19)
    db = Database(url)
    await migrate.upgrade(db)
    writer = GroupWriter(db, max_batch=64)
    writer.start()
    signer = Signer("bench-search-" + "x" * 40, visitor_token_days=1)
    countries = ["KZ", "RU", "UA"]
    made = [await sites.create_site(writer, f"Shop {c}", [f"http://{c.lower()}.bench.test"], default_country=c)
            for c in countries]
    owners = [(await operators.create_operator(writer, signer, f"op{i}@example.com", "correct horse battery",
                                                name=f"Operator {i}")).id for i in range(4)]
    now = utcnow()
    leads: list[dict[str, Any]] = []
    per_lead = max(1, args.messages // args.leads)

    def job(tx: Any) -> None:
        conn = tx.conn
        lead_rows, visitor_rows, conversation_rows, message_rows, note_rows, tag_rows = [], [], [], [], [], []
        lead_note_rows: list[dict[str, Any]] = []
        for i in range(args.leads):
            site_index = i % 3
            site = made[site_index]
            lang = rng.choice(["ru", "ru", "uk", "kk", "en"]) if site_index != 2 else rng.choice(["uk", "uk", "ru", "en"])
            first, last = rng.choice(NAMES[lang][0]), rng.choice(NAMES[lang][1])
            lead_id, visitor_id, conversation_id = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
            seen = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            lead = {
                "id": lead_id, "site_id": site.id, "name": f"{first} {last}" if rng.random() < 0.8 else None,
                "email": f"{LATIN[lang]}{i}@mail.test" if rng.random() < 0.6 else None,
                "phone": _phone(rng, countries[site_index]) if rng.random() < 0.7 else None,
                "status": rng.choice(STATUSES), "owner_id": rng.choice([None, *owners]),
                "first_seen_at": seen - timedelta(days=1), "last_seen_at": seen, "visits": 1,
            }
            lead_rows.append(lead)
            leads.append({**lead, "lang": lang, "country": countries[site_index]})
            visitor_rows.append({"id": visitor_id, "site_id": site.id, "lead_id": lead_id, "first_seen_at": seen,
                                 "last_seen_at": seen})
            conversation_rows.append({"id": conversation_id, "site_id": site.id, "visitor_id": visitor_id,
                                      "status": "open", "created_at": seen, "unread_count": 0, "last_seq": per_lead})
            for seq in range(1, per_lead + 1):
                body = rng.choice(TEMPLATES[lang]).format(item=rng.choice(ITEMS[lang]), city=rng.choice(CITIES),
                                                          n=rng.randrange(100, 100000))
                message_rows.append({"conversation_id": conversation_id, "seq": seq, "client_id": f"b{seq}",
                                     "author_kind": "visitor" if seq % 2 else "operator", "body": body,
                                     "created_at": seen})
            if rng.random() < 0.1:
                note_rows.append({"conversation_id": conversation_id, "kind": "note", "after_seq": 1,
                                  "actor_kind": "operator", "actor_id": owners[0], "actor_name": "Operator 0",
                                  "body": "Постоянный клиент, перезвонить после обеда", "created_at": seen})
            if rng.random() < 0.2:
                tag_rows.append({"lead_id": lead_id, "tag": rng.choice(TAGS), "site_id": site.id})
            if lead_note_rng.random() < 0.1:
                lead_note_rows.append({"lead_id": lead_id, "operator_id": owners[1], "created_at": seen,
                                       "body": lead_note_rng.choice(LEAD_NOTES)})
        conn.execute(insert(schema.leads), lead_rows)
        conn.execute(insert(schema.visitors), visitor_rows)
        conn.execute(insert(schema.conversations), conversation_rows)
        for start in range(0, len(message_rows), 5000):
            conn.execute(insert(schema.messages), message_rows[start:start + 5000])
        if note_rows:
            conn.execute(insert(schema.conversation_entries), note_rows)
        if tag_rows:
            conn.execute(insert(schema.lead_tags), tag_rows)
        if lead_note_rows:
            conn.execute(insert(schema.lead_notes), lead_note_rows)

    started = time.perf_counter()
    await writer.run(job)
    print(f"  seeded {len(leads):,} leads, {len(leads) * per_lead:,} messages in {time.perf_counter() - started:.1f} s")
    await writer.stop()
    # SQLite: new messages are indexed before a search, not when written; index them as a search would
    # (batches of services.search.INDEX_BATCH), and say what that costs a message.
    started, cpu0 = time.perf_counter(), time.process_time()
    indexed = await search.index_pending(db, None)
    if indexed:
        print(f"  indexed {indexed:,} new messages in {time.perf_counter() - started:.1f} s: "
              f"{(time.process_time() - cpu0) / indexed * 1e6:.1f} µs CPU a message")
    if db.dialect == "postgresql":  # what autovacuum does soon after a bulk load: planner statistics
        await db.connection(lambda conn: conn.execute(text("ANALYZE")))
    await db.close()
    return {"leads": leads, "sites": made, "owners": owners}


def _national(e164: str) -> str:
    """How people in the country type it: '8 701 123 4567', '067 123 4567'."""
    if e164.startswith("+7"):
        d = e164[2:]
        return f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"
    d = e164[4:]
    return f"0{d[:2]} {d[2:5]} {d[5:]}"


def queries(seeded: dict[str, Any], rng: random.Random) -> dict[str, list[tuple[dict[str, str], Any]]]:
    leads = seeded["leads"]
    with_phone = [lead for lead in leads if lead["phone"]]
    with_email = [lead for lead in leads if lead["email"]]
    limited = frozenset({seeded["sites"][2].id})
    ua = str(seeded["sites"][2].id)

    def pick(pool: list[dict[str, Any]]) -> dict[str, Any]:
        return rng.choice(pool)

    return {
        "phone, national format": [({"q": _national(pick(with_phone)["phone"])}, None) for _ in range(10)],
        "phone, international": [({"q": phones.display(pick(with_phone)["phone"])}, None) for _ in range(10)],
        "phone, last 7 digits": [({"q": pick(with_phone)["phone"][-7:]}, None) for _ in range(10)],
        "email": [({"q": pick(with_email)["email"].split("@")[0] + "@"}, None) for _ in range(10)],
        "name (inflected)": [({"q": w}, None) for w in ("Петровой", "Коваленко", "Серікбаевқа", "Johnson", "Наталії")],
        "word, common (ru)": [({"q": w}, None) for w in ("доставка", "доставкой", "заказ", "стоит")],
        "word, rare": [({"q": w}, None) for w in ("браком", "телевизор", "теледидар", "bicycle")],
        "two words (uk, kk)": [({"q": w}, None) for w in ("замовлення готове", "тапсырыс дайын", "доставки Львів")],
        "word + status + site": [({"q": "доставка", "status": "qualified", "site": ua}, None),
                                 ({"q": "заказ", "status": "new"}, None)],
        "word, limited operator": [({"q": "доставка"}, limited), ({"q": "ноутбук"}, limited)],
        "note word": [({"q": "перезвонить"}, None)],
        "lead note word": [({"q": "коммерческое"}, None)],
        "filters only": [({"status": "won"}, None), ({"tag": "vip"}, None), ({"owner": "0", "status": "new"}, None)],
        "word, page 5": [({"q": "доставка", "page": "5"}, None)],
    }


async def measure(url: str, seeded: dict[str, Any], repeat: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall time per query, and this process's CPU time per query (all threads: on SQLite
    the query itself; on PostgreSQL only the client's part)."""
    db = Database(url)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    per_search.clear()
    statements = [0]  # SQL statements run: on a loaded machine each round trip waits its turn

    from sqlalchemy import event

    engine = db.sync_engine if db.sync_engine is not None else db.engine.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", lambda *_args: statements.__setitem__(0, statements[0] + 1))
    try:
        # The floor on this machine now: one read that does nothing (thread hop or pool round trip).
        for _ in range(repeat * 5):
            started = time.perf_counter()
            await db.read(lambda conn: conn.execute(text("SELECT 1")).scalar())
            timings.setdefault("baseline: SELECT 1", []).append((time.perf_counter() - started) * 1000)
        # The plain Leads page as it was before search (list_leads): the same page, no search.
        from server.services import leads as lead_service

        for _ in range(repeat):
            started, cpu0 = time.perf_counter(), time.process_time()
            await lead_service.list_leads(db, limit=25)
            timings.setdefault("baseline: plain list", []).append((time.perf_counter() - started) * 1000)
            cpu.setdefault("baseline: plain list", []).append((time.process_time() - cpu0) * 1000)
        for kind, cases in queries(seeded, rng).items():
            # Once untimed: a server process compiles each shape of statement once (SQLAlchemy's
            # cache) and prepares it once per connection; a page view after that costs the rest.
            for form, site_ids in cases:
                await search.search(db, search.check_criteria(form), site_ids=site_ids, regions=["KZ", "RU", "UA"])
            found, before = 0, statements[0]
            for _ in range(repeat):
                for form, site_ids in cases:
                    criteria = search.check_criteria(form)
                    started, cpu0 = time.perf_counter(), time.process_time()
                    results = await search.search(db, criteria, site_ids=site_ids, regions=["KZ", "RU", "UA"])
                    timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
                    cpu.setdefault(kind, []).append((time.process_time() - cpu0) * 1000)
                    found += len(results.hits)
            if not found:
                print(f"  !! {kind}: nothing found")
            per_search.append((kind, (statements[0] - before) / len(timings[kind])))
    finally:
        await db.close()
    return timings, cpu


per_search: list[tuple[str, float]] = []  # (kind, statements a search) of the last measure()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"{name}:")
    seeded = await seed(url, args)
    # The seeded rows this process keeps (10,000 leads as dicts) are no server's: frozen out of
    # the collector, or a full collection walking them lands in one search as a 70-160 ms outlier.
    gc.collect()
    gc.freeze()
    timings, cpu = await measure(url, seeded, args.repeat)
    counts = dict(per_search)
    print(f"  {'query':28} {'p50 ms':>8} {'p99 ms':>8} {'CPU p50':>8} {'stmts':>6} {'runs':>6}")
    for kind, values in timings.items():
        print(f"  {kind:28} {statistics.median(values):8.1f} {_pct(values, 0.99):8.1f} "
              f"{statistics.median(cpu.get(kind, [0.0])):8.1f} {counts.get(kind, 1.0):6.1f} {len(values):6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}" if Path("/proc/loadavg").exists()
          else "")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="fd-bench-search-") as tmp:
            asyncio.run(run("SQLite (FTS5)", f"sqlite:///{Path(tmp) / 'search.db'}", args))
    if args.backend in ("postgres", "both"):
        asyncio.run(_postgres(args))
    if Path("/proc/loadavg").exists():
        print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


async def _postgres(args: argparse.Namespace) -> None:
    import asyncpg

    name = "frontdesk_bench_" + uuid.uuid4().hex[:12]
    admin = args.pg_url.replace("postgresql://", "postgres://")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        url = args.pg_url.rsplit("/", 1)[0] + "/" + name
        await run("PostgreSQL (tsvector + GIN)", url, args)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
