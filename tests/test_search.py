"""Search over leads and conversations, on SQLite (FTS5) and PostgreSQL (tsvector): phones as
operators type them, Cyrillic and Kazakh words with other endings, names, emails, private
notes of conversations and on leads (labelled), the filters, and an operator limited to
some sites."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import insert

from server.errors import Invalid
from server.security import Signer
from server.services import operators, search, sites
from server.store import conversations as conversation_store
from server.store import leads as lead_store
from server.store import migrate, schema
from server.store import visitors as visitor_store
from server.store.db import Database, utcnow
from server.store.writer import GroupWriter
from tests.conftest import BACKENDS, Backend

NOW = utcnow()
# name, site, email, phone, status, owner, tags, days since last seen, messages, notes
PEOPLE: list[dict[str, Any]] = [
    {"key": "anna", "site": "kz", "name": "Анна Петрова", "email": "anna.petrova@mail.kz", "phone": "+77011234567",
     "status": "new", "owner": "olga", "tags": ["vip", "опт"], "days": 1,
     "messages": [("visitor", "Здравствуйте, сколько стоит доставка в Алматы?"),
                  ("operator", "Доставка бесплатная от 10000 тенге")]},
    {"key": "erlan", "site": "kz", "name": "Ерлан", "phone": "+77051112233", "status": "contacted", "days": 2,
     "messages": [("visitor", "Сәлеметсіз бе, тапсырысты жеткізуге бола ма?")],
     "notes": ["Постоянный клиент, перезвонить после обеда"]},
    {"key": "olena", "site": "ua", "name": "Олена Коваленко", "email": "olena@example.ua", "phone": "+380671234567",
     "status": "qualified", "owner": "boris", "days": 3,
     "messages": [("visitor", "Коли буде замовлення? Чекаю на доставку")],
     "lead_notes": ["Хоче гуртову знижку на кавоварки", "Говорили про доставку до Львова"]},
    {"key": "hostile", "site": "ua", "name": "<script>alert(1)</script>", "email": "=cmd@evil.test", "status": "lost",
     "days": 4, "messages": [("visitor", "<img src=x onerror=alert(1)> price list please")],
     "lead_notes": ["<b onmouseover=alert(1)>кавоварки</b> не цікаві"]},
    {"key": "john", "site": "kz", "name": "John Smith", "email": "john@example.com", "status": "won", "days": 10,
     "messages": [("visitor", "What are your delivery prices?"), ("visitor", "Анна посоветовала ваш магазин")]},
]


async def _seed(url: str) -> dict[str, Any]:
    db = Database(url)
    await migrate.upgrade(db)
    writer = GroupWriter(db, max_batch=64)
    writer.start()
    try:
        kz = await sites.create_site(writer, "Astana shop", ["http://kz.test"], default_country="KZ")
        ua = await sites.create_site(writer, "Kyiv shop", ["http://ua.test"], default_country="UA")
        signer = Signer("search-test-" + "x" * 40, visitor_token_days=1)
        olga = await operators.create_operator(writer, signer, "olga@example.com", "correct horse battery", name="Olga")
        boris = await operators.create_operator(writer, signer, "boris@example.com", "correct horse battery",
                                                name="Boris", role="agent", site_keys=[ua.key])
        ids: dict[str, Any] = {"kz": kz.id, "ua": ua.id, "olga": olga.id, "boris": boris.id}

        def job(tx: Any) -> None:
            conn = tx.conn
            for person in PEOPLE:
                lead_id, visitor_id, conversation_id = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
                ids[person["key"]] = lead_id
                site_id = ids[person["site"]]
                lead_store.insert_lead(conn, id=lead_id, site_id=site_id, name=person["name"],
                                       email=person.get("email"), phone=person.get("phone"), status=person["status"],
                                       owner_id=ids.get(person.get("owner", "")))
                lead_store.update_lead(conn, lead_id, last_seen_at=NOW - timedelta(days=person["days"]))
                visitor_store.insert_visitor(conn, id=visitor_id, site_id=site_id, lead_id=lead_id)
                conversation_store.insert_conversation(conn, id=conversation_id, site_id=site_id, visitor_id=visitor_id)
                for seq, (kind, body) in enumerate(person["messages"], 1):
                    conn.execute(insert(schema.messages).values(
                        conversation_id=conversation_id, seq=seq, client_id=f"c{seq}", author_kind=kind, body=body,
                        created_at=NOW))
                for body in person.get("notes", []):
                    conn.execute(insert(schema.conversation_entries).values(
                        conversation_id=conversation_id, kind="note", after_seq=1, actor_kind="operator",
                        actor_id=olga.id, actor_name="Olga", body=body, created_at=NOW))
                for body in person.get("lead_notes", []):
                    conn.execute(insert(schema.lead_notes).values(lead_id=lead_id, operator_id=olga.id, body=body,
                                                                  created_at=NOW))
                for tag in person.get("tags", []):
                    conn.execute(insert(schema.lead_tags).values(lead_id=lead_id, tag=tag, site_id=site_id))
            # A lead merged into Anna's keeps its row but is never a result of its own.
            merged = uuid.uuid4().hex
            lead_store.insert_lead(conn, id=merged, site_id=kz.id, name="Анна", phone="+77011234567",
                                   merged_into=ids["anna"])
            # A name given later (identify) is found by its new name only.
            lead_store.update_lead(conn, ids["john"], name="Johnny Walker Smith")

        await writer.run(job)
    finally:
        await writer.stop()
        await db.close()
    return ids


class Data:
    def __init__(self, url: str, ids: dict[str, Any]) -> None:
        self.url, self.ids = url, ids
        self.names = {v: k for k, v in ids.items() if isinstance(v, str)}

    async def find(self, q: str = "", *, site_ids: Any = None, page_size: int = 25, **form: str) -> list[str]:
        return [self.names[h.lead["id"]] for h in (await self.results(q, site_ids=site_ids, page_size=page_size, **form)).hits]

    async def results(self, q: str = "", *, site_ids: Any = None, page_size: int = 25, **form: str) -> search.Results:
        db = Database(self.url)
        try:
            criteria = search.check_criteria({"q": q, **form})
            return await search.search(db, criteria, site_ids=site_ids, regions=["KZ", "UA"], page_size=page_size)
        finally:
            await db.close()


@pytest.fixture(scope="module", params=BACKENDS)
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Data]:
    backend = Backend(request.param, tmp_path_factory.mktemp(f"search-{request.param}"))
    try:
        yield Data(backend.url, asyncio.run(_seed(backend.url)))
    finally:
        backend.close()


@pytest.mark.parametrize("typed", ["8 701 123 4567", "+7 (701) 123-45-67", "87011234567", "8 (701) 123-45-67",
                                   "701 123 45 67", "701-123", "+77011234567"])
async def test_a_phone_typed_any_way_finds_the_lead(data: Data, typed: str) -> None:
    assert await data.find(typed) == ["anna"]


async def test_a_ukrainian_number_in_its_national_form_finds_the_lead(data: Data) -> None:
    assert await data.find("067 123 4567") == ["olena"]
    assert await data.find("(067) 123-45-67") == ["olena"]


async def test_russian_words_with_other_endings_are_found_in_messages(data: Data) -> None:
    # "доставка" is in Anna's messages, "доставку" in Olena's (written later): any form
    # finds both, the newest matching message first.
    for typed in ("доставка", "Доставку", "ДОСТАВКОЙ", "доставки"):
        assert await data.find(typed) == ["olena", "anna"], typed


async def test_ukrainian_and_kazakh_words_are_found(data: Data) -> None:
    assert await data.find("замовленням") == ["olena"]
    assert await data.find("жеткізу") == ["erlan"]
    assert await data.find("тапсырыс") == ["erlan"]


async def test_every_word_must_match_one_message(data: Data) -> None:
    assert await data.find("доставка Алматы") == ["anna"]
    assert await data.find("доставка Киев") == []


async def test_names_emails_and_english_words(data: Data) -> None:
    assert await data.find("Петровой") == ["anna"]
    assert await data.find("олена") == ["olena"]
    assert await data.find("anna.petrova@") == ["anna"]
    assert await data.find("PETROVA") == ["anna"]  # a single word is also looked for in emails
    assert await data.find("price") == ["john", "hostile"]
    assert await data.find("Johnny") == ["john"]
    assert await data.find("John") == ["john"]


async def test_own_fields_come_first_then_messages_newest_first(data: Data) -> None:
    # "Анна" is Anna's name and in John's (newer) message: the name match first.
    assert await data.find("анна") == ["anna", "john"]
    assert await data.find("ерлан") == ["erlan"]
    # "john" is John's name and in his email, and nobody's message: his lead alone.
    first = await data.results("smith")
    assert [data.names[h.lead["id"]] for h in first.hits] == ["john"] and first.hits[0].message is None


async def test_private_notes_are_found_and_labelled(data: Data) -> None:
    results = await data.results("перезвонить")
    assert [h.lead["id"] for h in results.hits] == [data.ids["erlan"]]
    hit = results.hits[0]
    assert hit.message is None and hit.note is not None and hit.note["kind"] == "note"


async def test_notes_on_a_lead_are_found_labelled_and_only_on_the_operators_sites(data: Data) -> None:
    # "кавоварки": a note on Olena's lead and (newer id) one on the hostile lead, both on the UA site.
    results = await data.results("кавоварка")
    assert [data.names[h.lead["id"]] for h in results.hits] == ["hostile", "olena"]
    note = results.hits[1].note
    assert results.hits[1].message is None and note is not None
    assert note["kind"] == "lead_note" and note["conversation_id"] is None and note["author_name"] == "Olga"
    assert note["body"] == "Хоче гуртову знижку на кавоварки"
    assert results.hits[0].note["body"] == "<b onmouseover=alert(1)>кавоварки</b> не цікаві"  # type: ignore[index]
    assert await data.find("гуртова знижка") == ["olena"]  # every word, in one note
    # An operator of the KZ site only: another site's notes find nothing.
    assert await data.find("кавоварки", site_ids={data.ids["kz"]}) == []
    assert await data.find("кавоварки", site_ids={data.ids["ua"]}) == ["hostile", "olena"]
    # A lead found by its messages counts once, there: "доставку" is in Olena's message and note.
    found = await data.results("доставку", site=str(data.ids["ua"]))
    assert [data.names[h.lead["id"]] for h in found.hits] == ["olena"] and found.hits[0].message is not None


async def test_an_edited_or_deleted_lead_note_is_found_by_what_it_says_now(data: Data) -> None:
    from server.store import lead_pipeline as pipeline_store

    db = Database(data.url)
    try:
        note = await db.transaction(lambda conn: pipeline_store.insert_note(
            conn, data.ids["erlan"], data.ids["olga"], "Просил счёт-фактуру"))
        assert await data.find("счёт") == ["erlan"]
        await db.transaction(lambda conn: pipeline_store.update_note(conn, note["id"], "Просил накладную"))
        assert await data.find("счёт") == []
        assert await data.find("накладная") == ["erlan"]
        await db.transaction(lambda conn: pipeline_store.delete_note(conn, note["id"]))
        assert await data.find("накладная") == []
    finally:
        await db.close()


async def test_a_match_older_than_hundreds_of_newer_ones_is_still_found(data: Data) -> None:
    """PostgreSQL maps only the newest matches to leads first; when too few of those pass
    the filters (here: the operator's site), it maps all of them, in the same statement."""
    db = Database(data.url)

    def write(conn: Any) -> None:
        def conversation(lead: str, site: str) -> str:
            visitor_id, conversation_id = uuid.uuid4().hex, uuid.uuid4().hex
            visitor_store.insert_visitor(conn, id=visitor_id, site_id=data.ids[site], lead_id=data.ids[lead])
            conversation_store.insert_conversation(conn, id=conversation_id, site_id=data.ids[site],
                                                   visitor_id=visitor_id)
            return conversation_id

        older, newer = conversation("olena", "ua"), conversation("erlan", "kz")
        rows = [(older, 1)] + [(newer, n) for n in range(1, 701)]   # one UA match, then 700 newer KZ ones
        conn.execute(insert(schema.messages), [
            {"conversation_id": c, "seq": n, "client_id": f"w{n}", "author_kind": "visitor",
             "body": f"Зюзюка номер {n}", "created_at": NOW} for c, n in rows])

    try:
        await db.transaction(write)
    finally:
        await db.close()
    assert await data.find("зюзюка") == ["erlan", "olena"]
    assert await data.find("зюзюка", site_ids={data.ids["ua"]}) == ["olena"]
    assert await data.find("зюзюка", status="qualified") == ["olena"]


async def test_a_hit_carries_its_tags_conversations_and_owner(data: Data) -> None:
    for q in ("доставка", "Анна Петрова", "", "anna.petrova@"):
        anna = next(h for h in (await data.results(q)).hits if h.lead["id"] == data.ids["anna"])
        assert anna.lead["tags"] == ["vip", "опт"] and anna.lead["conversations"] == 1, q
        assert anna.lead["owner_name"] == "Olga" and anna.lead["site_name"] == "Astana shop", q


async def test_a_search_is_one_statement_on_postgresql(data: Data) -> None:
    """Every statement is a round trip, which a busy machine makes wait its turn: the match,
    the filters, the page's tags, counts and matching texts are one statement."""
    from sqlalchemy import event

    db = Database(data.url)
    statements: list[str] = []
    engine = db.sync_engine if db.sync_engine is not None else db.engine.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: statements.append(sql))
    try:
        for form in ({"q": "доставка", "status": "qualified", "site": str(data.ids["ua"])}, {"q": "кавоварки"},
                     {"q": "8 701 123 4567"}, {"tag": "vip"}):
            statements.clear()
            criteria = search.check_criteria(form)
            results = await search.search(db, criteria, site_ids=None, regions=["KZ", "UA"])
            assert results.hits, form
            searched = [s for s in statements if "search_state" not in s]  # SQLite: is the index up to date?
            if db.dialect == "postgresql":
                assert len(searched) == 1, form
            else:  # the FTS5 index is walked in Python (it stops at a page); the page is one statement
                assert len(searched) <= 5, form
    finally:
        await db.close()


async def test_the_matching_message_comes_with_a_safe_snippet(data: Data) -> None:
    results = await data.results("onerror")
    assert [h.lead["id"] for h in results.hits] == [data.ids["hostile"]]
    pieces = search.snippet(results.hits[0].message["body"], results.match)  # type: ignore[index]
    assert ("onerror", True) in pieces
    assert "".join(p for p, _ in pieces) == "<img src=x onerror=alert(1)> price list please"


async def test_filters(data: Data) -> None:
    ids = data.ids
    assert await data.find() == ["anna", "erlan", "olena", "hostile", "john"]  # newest activity first
    assert await data.find(status="contacted") == ["erlan"]
    assert await data.find(site=str(ids["ua"])) == ["olena", "hostile"]
    assert await data.find(owner=str(ids["boris"])) == ["olena"]
    assert await data.find(owner="0") == ["erlan", "hostile", "john"]
    assert await data.find(tag="vip") == ["anna"]
    today = NOW.date()
    assert await data.find(**{"from": (today - timedelta(days=3)).isoformat()}) == ["anna", "erlan", "olena"]
    assert await data.find(**{"to": (today - timedelta(days=5)).isoformat()}) == ["john"]
    assert await data.find("доставка", status="qualified") == ["olena"]


async def test_an_operator_limited_to_some_sites_finds_only_theirs(data: Data) -> None:
    assert await data.find("доставка", site_ids={data.ids["ua"]}) == ["olena"]
    assert await data.find("8 701 123 4567", site_ids={data.ids["ua"]}) == []
    assert await data.find(site_ids=set()) == []


async def test_pages(data: Data) -> None:
    first = await data.results(page_size=2)
    second = await data.results(page_size=2, page="3")
    assert first.more and len(first.hits) == 2
    assert not second.more and [data.names[h.lead["id"]] for h in second.hits] == ["john"]


@pytest.mark.parametrize(
    ("form", "field"),
    [({"status": "maybe"}, "status"), ({"from": "yesterday"}, "from"), ({"site": "x"}, "site"),
     ({"from": "2026-03-02", "to": "2026-03-01"}, "to"), ({"q": "x" * 201}, "q"), ({"page": "0"}, "page"),
     ({"to": "9999-12-31"}, "to"), ({"owner": "-1"}, "owner"), ({"page": "401"}, "page"), ({"tag": "t" * 51}, "tag")],
)
def test_bad_filters_are_refused_naming_the_field(form: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        search.check_criteria(form)
    assert caught.value.field == field


def test_a_query_of_one_letter_words_only_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        search.match_for("a b", ["KZ"])
    assert caught.value.field == "q"


@pytest.mark.parametrize(
    ("word", "stem"),
    [("доставкой", "доставк"), ("доставка", "доставк"), ("заказ", "заказ"), ("замовленням", "замовленн"),
     ("жеткізуге", "жеткізу"), ("prices", "pric"), ("кот", "кот")],
)
def test_stems(word: str, stem: str) -> None:
    assert search.stem(word) == stem


def test_criteria_round_trip_as_query_arguments() -> None:
    criteria = search.check_criteria({"q": "доставка", "status": "new", "from": "2026-03-01", "page": "2"})
    assert criteria.args(page=None) == [("q", "доставка"), ("status", "new"), ("from", "2026-03-01")]
    assert criteria.date_from == date(2026, 3, 1)


async def test_the_migration_indexes_what_was_there_before(tmp_path: Path) -> None:
    """Messages, notes and names stored before 0016 are found after it (the backfill)."""
    from alembic import command
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        def before(conn: Any) -> None:
            command.upgrade(migrate.alembic_config(conn), "0015_lead_pipeline")
            conn.execute(text(
                "INSERT INTO sites (id, key, name, allowed_origins, color, position, created_at) "
                "VALUES (1, 'fd_k', 'K', '[]', '#000000', 'auto', CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO leads (id, site_id, name, status, first_seen_at, last_seen_at, visits) "
                              "VALUES ('l1', 1, 'Мария', 'new', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
            conn.execute(text("INSERT INTO visitors (id, site_id, lead_id, first_seen_at, last_seen_at) "
                              "VALUES ('v1', 1, 'l1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO conversations (id, site_id, visitor_id, status, created_at, unread_count, "
                              "last_seq) VALUES ('c1', 1, 'v1', 'open', CURRENT_TIMESTAMP, 0, 1)"))
            conn.execute(text("INSERT INTO messages (conversation_id, seq, client_id, author_kind, body, created_at) "
                              "VALUES ('c1', 1, 'x', 'visitor', 'Нужна консультация', CURRENT_TIMESTAMP)"))
            conn.commit()

        await db.connection(before)
        await migrate.upgrade(db)
        criteria = search.check_criteria({"q": "консультацию"})
        found = await search.search(db, criteria, site_ids=None, regions=[])
        assert [h.lead["id"] for h in found.hits] == ["l1"]
        found = await search.search(db, search.check_criteria({"q": "марии"}), site_ids=None, regions=[])
        assert [h.lead["id"] for h in found.hits] == ["l1"]
    finally:
        await db.close()


async def test_queued_messages_are_indexed_before_a_search_and_deletes_keep_the_index_whole(tmp_path: Path) -> None:
    """SQLite: a message written is indexed in bulk before the next search; deleting one,
    indexed or not yet, even the newest (whose id SQLite may give again), leaves an index
    that passes FTS5's integrity check and finds what is there."""
    from sqlalchemy import text

    from server.store import search as store

    url = f"sqlite:///{tmp_path / 'q.db'}"
    ids = await _seed(url)
    db = Database(url)
    try:
        def count(conn: Any) -> int:
            return int(conn.execute(text(
                "SELECT count(*) FROM messages WHERE id > (SELECT messages_upto FROM search_state)")).scalar_one())

        assert await db.read(count) > 0  # seeded messages wait in the queue
        found = await search.search(db, search.check_criteria({"q": "Алматы"}), site_ids=None, regions=[])
        assert [h.lead["id"] for h in found.hits] == [ids["anna"]] and await db.read(count) == 0

        def write(conn: Any) -> None:
            conn.execute(text("DELETE FROM messages WHERE body LIKE 'Доставка бесплатная%'"))  # indexed
            conn.execute(insert(schema.messages).values(conversation_id=conn.execute(text(
                "SELECT conversation_id FROM messages LIMIT 1")).scalar_one(), seq=99, client_id="late",
                author_kind="visitor", body="Кофемашина пришла", created_at=NOW))
            conn.execute(text("DELETE FROM messages WHERE client_id = 'late'"))  # still queued

        await db.transaction(write)
        assert await search.index_pending(db, None) == 0
        assert await db.read(lambda conn: store.index_pending(conn, 10)) == 0
        await db.transaction(lambda conn: conn.execute(text(
            "INSERT INTO search_messages(search_messages) VALUES ('integrity-check')")))
        assert (await data_find(db, "бесплатная")) == []
        assert (await data_find(db, "кофемашина")) == []

        def newest_deleted_then_reused(conn: Any) -> None:
            newest = conn.execute(text("SELECT max(id) FROM messages")).scalar_one()
            body = conn.execute(text("SELECT conversation_id FROM messages WHERE id = :i"), {"i": newest}).scalar_one()
            conn.execute(text("DELETE FROM messages WHERE id = :i"), {"i": newest})  # indexed, the newest
            conn.execute(insert(schema.messages).values(
                conversation_id=body, seq=100, client_id="reused", author_kind="visitor", body="Тоңазытқыш керек",
                created_at=NOW))  # gets the same id again

        await db.transaction(newest_deleted_then_reused)
        assert len(await data_find(db, "тоңазытқыш")) == 1
        await db.transaction(lambda conn: conn.execute(text(
            "INSERT INTO search_messages(search_messages) VALUES ('integrity-check')")))
    finally:
        await db.close()


async def data_find(db: Database, q: str) -> list[str]:
    found = await search.search(db, search.check_criteria({"q": q}), site_ids=None, regions=[])
    return [h.lead["id"] for h in found.hits]
