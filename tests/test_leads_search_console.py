"""The Leads page's search and the CSV exports, over HTTP on a real server: a phone typed
differently finds the lead, words find it with an escaped snippet, bad filters name their
field; exports are UTF-8 with a BOM, `;` or `,`, Cyrillic intact, formulas neutralised,
private notes left out of transcripts, other sites' data refused, exports rate-limited."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from server.cli import opened
from server.services import conversations
from server.store import schema
from server.store.operators import Operator
from tests.clients import connect_visitor, console_login, new_id, start_visitor
from tests.factories import PASSWORD, make_operator, make_site, seed_conversation, settings_for
from tests.servers import ServerProcess

HOSTILE_NAME = "=HYPERLINK(\"http://evil.test\")<b>Айгерім</b>"


async def _lead(server: ServerProcess, site: Any, *, name: str, phone: str, email: str, bodies: list[str]) -> str:
    """A visitor who gives their name, phone and email and writes ``bodies``; the conversation id."""
    session = await start_visitor(server, site.key, site.allowed_origins[0])
    visitor, _ = await connect_visitor(server, site.key, site.allowed_origins[0], session["token"])
    try:
        await visitor.send({"type": "visitor.identify", "id": new_id(), "name": name, "phone": phone, "email": email})
        identified = await visitor.recv_until(lambda f: f.get("type") == "identified")
        assert not identified["refused"], identified
        conversation_id = ""
        for body in bodies:
            await visitor.send({"type": "message.send", "id": new_id(), "body": body})
            conversation_id = (await visitor.recv_until(lambda f: f["type"] == "ack"))["conversation_id"]
        return conversation_id
    finally:
        await visitor.close()


async def _note(server: ServerProcess, operator: Operator, conversation_id: str, body: str) -> None:
    async with opened(settings_for(server)) as state:
        await conversations.add_note(state.writer, operator, conversation_id, new_id(), body)


async def _tag_and_own(server: ServerProcess, email: str, tag: str, owner: Operator) -> None:
    """What the pipeline's UI does to a lead: a tag and an owner."""
    async with opened(settings_for(server)) as state:
        def job(tx: Any) -> None:
            leads = schema.leads
            lead = tx.conn.execute(select(leads.c.id, leads.c.site_id).where(
                leads.c.email == email, leads.c.merged_into.is_(None))).one()
            tx.conn.execute(insert(schema.lead_tags).values(lead_id=lead.id, tag=tag, site_id=lead.site_id))
            tx.conn.execute(update(leads).where(leads.c.id == lead.id).values(owner_id=owner.id))

        await state.writer.run(job)


def _rows(response: httpx.Response, delimiter: str) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode("utf-8")), "no BOM: Excel would garble the Cyrillic"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=delimiter))


async def test_search_by_a_phone_typed_differently_words_and_filters(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server, default_country="KZ")
    operator = await make_operator(sqlite_server)
    await _lead(sqlite_server, site, name=HOSTILE_NAME, phone="+7 701 555 12 34", email="aigerim@example.com",
                bodies=["Здравствуйте! Сколько стоит доставка <script>alert(1)</script> в Алматы?"])
    other = await _lead(sqlite_server, site, name="Борис", phone="+7 702 000 11 22", email="boris@example.com",
                        bodies=["Where is my order?"])
    await _note(sqlite_server, operator, other, "Перезвонить насчёт возврата")
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        for typed in ("8 701 555 1234", "8 (701) 555-12-34", "87015551234", "555-12-34"):
            page = await http.get("/console/leads", params={"q": typed})
            assert page.status_code == 200
            assert "aigerim@example.com" in page.text and "boris@example.com" not in page.text, typed
        page = await http.get("/console/leads", params={"q": "доставку"})
        text = page.text
        assert "aigerim@example.com" in text and "boris@example.com" not in text
        assert "<mark>доставка</mark>" in text  # the matching word highlighted ...
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # ... the rest text
        assert "<b>Айгерім</b>" not in text and html.escape("<b>Айгерім</b>", quote=False) in text
        assert 'value="доставку"' in text  # the form keeps what was typed
        # A private note is found, and labelled as one.
        page = await http.get("/console/leads", params={"q": "перезвонить"})
        assert "boris@example.com" in page.text and "fd-match-note" in page.text
        # Filters: nothing is "won" here; another status or tag finds nothing either.
        page = await http.get("/console/leads", params={"q": "доставка", "status": "won"})
        assert "aigerim@example.com" not in page.text and 'role="status"' in page.text
        page = await http.get("/console/leads", params={"status": "new", "site": str(site.id)})
        assert "aigerim@example.com" in page.text and "boris@example.com" in page.text
    finally:
        await http.aclose()


async def test_a_bad_filter_is_named_in_the_operators_language(sqlite_server: ServerProcess) -> None:
    operator = await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        page = await http.get("/console/leads", params={"from": "2026-03-05", "to": "2026-03-01", "lang": "ru"})
        assert page.status_code == 400
        assert "Конечная дата раньше начальной." in page.text
        assert 'id="fd-f-to" name="to" type="date" value="2026-03-01" aria-invalid="true"' in page.text
        page = await http.get("/console/leads", params={"q": "a b"})
        assert page.status_code == 400 and 'aria-invalid="true"' in page.text
    finally:
        await http.aclose()


async def test_the_leads_export_opens_in_excel_and_runs_no_formula(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server, default_country="KZ")
    operator = await make_operator(sqlite_server)
    await _lead(sqlite_server, site, name=HOSTILE_NAME, phone="87015559988", email="export@example.com",
                bodies=["Нужна доставка"])
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        for sep, delimiter in (("comma", ","), ("semicolon", ";"), (None, ";")):
            params = {"q": "8 701 555 99 88", **({"sep": sep} if sep else {})}
            rows = _rows(await http.get("/console/leads/export.csv", params=params), delimiter)
            header, *leads = rows
            assert header[:5] == ["lead_id", "site", "name", "email", "phone"]
            assert len(leads) == 1
            lead = dict(zip(header, leads[0]))
            assert lead["name"] == "'" + HOSTILE_NAME  # Cyrillic intact, the formula neutralised
            assert lead["phone"] == "'+77015559988"  # still readable
            assert lead["email"] == "export@example.com" and lead["site"] == site.name
        refused = await http.get("/console/leads/export.csv", params={"sep": "tab"})
        assert refused.status_code == 400 and "separator" in refused.text
    finally:
        await http.aclose()


async def test_a_transcript_leaves_notes_out_and_other_sites_are_refused(sqlite_server: ServerProcess) -> None:
    site, elsewhere = await make_site(sqlite_server), await make_site(sqlite_server)
    operator = await make_operator(sqlite_server)
    limited = await make_operator(sqlite_server, role="agent", site_keys=[elsewhere.key])
    cid = await _lead(sqlite_server, site, name="Олена", phone="+380671112233", email="olena@example.com",
                      bodies=["Добрий день!", "-1+1", "@SUM(A1:A2)"])
    await _note(sqlite_server, operator, cid, "Секретная заметка")
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    other = await console_login(sqlite_server, limited.email, PASSWORD)
    try:
        rows = _rows(await http.get(f"/console/conversations/{cid}/transcript.csv", params={"sep": "comma"}), ",")
        assert rows[0] == ["seq", "time_utc", "author", "author_name", "text"]
        assert [r[4] for r in rows[1:]] == ["Добрий день!", "'-1+1", "'@SUM(A1:A2)"]
        assert all(r[2] == "visitor" for r in rows[1:])
        assert "Секретная" not in (await http.get(f"/console/conversations/{cid}/transcript.csv")).text
        assert (await other.get(f"/console/conversations/{cid}/transcript.csv")).status_code == 404
        assert (await other.get("/console/leads/export.csv", params={"q": "Олена"})).text.count("\n") == 1
    finally:
        await http.aclose()
        await other.aclose()


async def test_exports_are_rate_limited_per_operator(sqlite_server: ServerProcess) -> None:
    operator, another = await make_operator(sqlite_server), await make_operator(sqlite_server)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    other = await console_login(sqlite_server, another.email, PASSWORD)
    try:
        statuses = [(await http.get("/console/leads/export.csv")).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]  # FRONTDESK_CSV_EXPORTS_PER_MINUTE: 10
        assert (await other.get("/console/leads/export.csv")).status_code == 200
    finally:
        await http.aclose()
        await other.aclose()
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=30) as anonymous:
        assert (await anonymous.get("/console/leads/export.csv", follow_redirects=False)).status_code == 303


async def test_hostile_tags_and_owner_names_are_text_and_filter(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    operator = await make_operator(sqlite_server)
    boss = await make_operator(sqlite_server, name="<i>Boss</i>")
    tag = "=<b>vip</b>"
    await _lead(sqlite_server, site, name="Tagged", phone="+77017778899", email="tagged@example.com", bodies=["Hi"])
    await _tag_and_own(sqlite_server, "tagged@example.com", tag, boss)
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        page = await http.get("/console/leads", params={"tag": tag, "owner": str(boss.id)})
        text = page.text
        assert "tagged@example.com" in text
        assert "<b>vip</b>" not in text and "&lt;b&gt;vip&lt;/b&gt;" in text
        assert "<i>Boss</i>" not in text and "&lt;i&gt;Boss&lt;/i&gt;" in text
        rows = _rows(await http.get("/console/leads/export.csv", params={"tag": tag, "sep": "comma"}), ",")
        lead = dict(zip(rows[0], rows[1]))
        assert lead["tags"] == "'" + tag and lead["owner"] == "<i>Boss</i>"  # text in a CSV; the formula neutralised
        assert (await http.get("/console/leads", params={"tag": "other"})).text.count("tagged@example.com") == 0
    finally:
        await http.aclose()


async def test_a_long_transcript_streams_every_message_in_order(sqlite_server: ServerProcess) -> None:
    site = await make_site(sqlite_server)
    operator = await make_operator(sqlite_server)
    _, cid = await seed_conversation(settings_for(sqlite_server), site.key, 2345, text="Сообщение")
    http = await console_login(sqlite_server, operator.email, PASSWORD)
    try:
        rows = _rows(await http.get(f"/console/conversations/{cid}/transcript.csv"), ";")[1:]
        assert [r[0] for r in rows] == [str(i) for i in range(1, 2346)]  # read 1,000 at a time
        assert rows[-1][4] == "Сообщение 2345"
    finally:
        await http.aclose()
