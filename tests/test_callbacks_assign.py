"""Callbacks on a server with email (a real aiosmtpd mailbox): "as soon as possible" only
while an operator is on duty; the assigned operator (the lead's owner by default, taken
or given in the queue, filtered as "mine"); the email reminder to the assignee, or to
every operator of the site while nobody has taken the callback, sent once."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from server.cli import opened
from server.services import operators
from server.store.db import utcnow
from server.store.schema import callback_reminders, emails, leads, visitors
from server.store.schema import callbacks as callback_table
from server.store.sites import Site
from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from server.cli import main
from tests.conftest import Backend
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.mailbox import Mailbox, parts
from tests.servers import ServerProcess, free_port
from tests.test_callbacks import api, book, callback_site, offer
from tests.test_callbacks_console import csrf



@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[ServerProcess]:
    """A server of this module's own (nobody is on duty until a test opens a console), with
    its public URL set, as the links in emails need (its port chosen first)."""
    port = free_port()
    backend = Backend("sqlite", tmp_path_factory.mktemp("callbacks-desk"))
    env = {**backend.env(), **mailbox.env(FRONTDESK_PUBLIC_URL=f"http://127.0.0.1:{port}")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["migrate"]) == 0
    proc = ServerProcess(env=env, log_path=backend.tmp / "server.log", port=port).start()
    yield proc
    proc.stop()
    backend.close()


async def asap_offered(client: httpx.AsyncClient, site: Site) -> bool:
    return bool((await offer(client, site))["asap"])


async def pending(client: httpx.AsyncClient, site: Site, token: str) -> list[dict[str, Any]]:
    listed = await client.post(api(site, "/pending"), json={"token": token}, headers={"Origin": site.allowed_origins[0]})
    return list(listed.json()["callbacks"])


async def until(check: Any, what: str, timeout: float = 10.0) -> None:
    """Waits for something that happens after a socket closes (the server hears it a moment later)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_as_soon_as_possible_only_while_an_operator_is_on_duty(desk: ServerProcess) -> None:
    site = await callback_site(desk)  # open every day, all day: only presence decides
    origin = site.allowed_origins[0]
    token = (await start_visitor(desk, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as client:
        # Nobody has a console open on this server: not offered, and refused with the reason.
        assert await asap_offered(client, site) is False
        refused = await book(client, site, token, asap=True, language="ru")
        assert refused.status_code == 400
        assert refused.json()["error"] == {
            "code": "invalid", "field": "slot", "message": "Сейчас никого нет на месте: выберите время звонка.",
        }
        assert await pending(client, site, token) == []  # nothing stored

        operator = await make_operator(desk)
        http = await console_login(desk, operator.email, PASSWORD)
        console = await connect_operator(desk, http)  # the welcome means: counted on duty
        try:
            assert await asap_offered(client, site) is True
            booked = await book(client, site, token, asap=True)
            assert booked.status_code == 201, booked.text
            assert booked.json()["callback"]["asap"] is True

            # On duty, but the site's day off (in its own zone): not offered, refused.
            today = utcnow().astimezone(ZoneInfo(site.callback_tz)).date().isoformat()
            closed = await callback_site(desk, days_off=today)
            closed_token = (await start_visitor(desk, closed.key, closed.allowed_origins[0]))["token"]
            assert await asap_offered(client, closed) is False
            answer = await book(client, closed, closed_token, asap=True)
            assert (answer.status_code, answer.json()["error"]["field"]) == (400, "slot")
        finally:
            await console.close()
            await http.aclose()
        # The operator left: no longer offered.
        await until(lambda: _not(asap_offered(client, site)), "ASAP to go once the console closed")
        late = await book(client, site, (await start_visitor(desk, site.key, origin))["token"], asap=True)
        assert late.status_code == 400 and late.json()["error"]["field"] == "slot"


async def _not(answer: Any) -> bool:
    return not await answer


async def stored(server: ServerProcess, callback_id: str) -> Any:
    async with opened(settings_for(server)) as state:
        return await state.db.read(lambda conn: conn.execute(
            select(callback_table).where(callback_table.c.id == callback_id)).first())


async def own_lead(server: ServerProcess, callback_id: str, owner_id: int) -> None:
    """The pipeline's owner of the callback's visitor's lead (set as the leads page would)."""
    row = await stored(server, callback_id)
    async with opened(settings_for(server)) as state:
        await state.db.transaction(lambda conn: conn.execute(
            update(leads).where(leads.c.id == select(visitors.c.lead_id).where(visitors.c.id == row.visitor_id)
                                .scalar_subquery()).values(owner_id=owner_id)))


def row_of(page: str, callback_id: str) -> str:
    start = page.index(f'id="cb-{callback_id}"')
    return page[start:page.index("</li>", start)]


async def test_assignment_default_take_give_filter_and_feed(desk: ServerProcess) -> None:
    site = await callback_site(desk)
    elsewhere = await make_site(desk)
    olga = await make_operator(desk, name="Ольга")
    ivan = await make_operator(desk, name="Иван", role="agent", site_keys=[site.key])
    outsider = await make_operator(desk, name="Outsider", role="agent", site_keys=[elsewhere.key])
    http = await console_login(desk, olga.email, PASSWORD)
    console = await connect_operator(desk, http)
    origin = site.allowed_origins[0]
    token = (await start_visitor(desk, site.key, origin))["token"]
    visitor, _ = await connect_visitor(desk, site.key, origin, token)  # they chatted before asking for a call
    await visitor.send({"type": "message.send", "id": new_id(), "body": "Можно позвонить?"})
    conversation_id = (await visitor.recv_until(lambda f: f["type"] == "ack"))["conversation_id"]
    await visitor.close()
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as client:
        day = (await offer(client, site))["days"][1]["slots"]
        first = (await book(client, site, token, slot=day[0]["start"], name="Асель")).json()["callback"]["id"]
        # Nobody owns this visitor yet: the first callback is nobody's.
        requested = await console.recv_until(lambda f: f["type"] == "callback.requested")
        assert requested["callback"]["id"] == first and requested["callback"]["assignee_id"] is None
        # Once Ivan owns the visitor's lead (the sales pipeline), their next callback is his.
        await own_lead(desk, first, ivan.id)
        second = (await book(client, site, token, slot=day[1]["start"])).json()["callback"]["id"]
    requested = await console.recv_until(lambda f: f["type"] == "callback.requested" and f["callback"]["id"] == second)
    assert requested["callback"]["assignee_id"] == ivan.id

    page = (await http.get("/console/callbacks?lang=ru")).text
    assert "Никто не взял" in row_of(page, first) and "Назначен: Иван" in row_of(page, second)
    # The lead's card is on the row, its conversations one click away.
    card = row_of(page, first)
    assert 'class="fd-cb-lead"' in card and "Асель" in card and "Можно позвонить?" in card
    assert f'href="/console/#c={conversation_id}"' in card
    token_csrf = csrf(page)

    # Olga takes the first: an event, and it is hers in the queue.
    taken = await http.post(f"/console/callbacks/{first}/assign",
                            data={"csrf_token": token_csrf, "assignee_id": str(olga.id), "show": "mine"})
    assert taken.status_code == 303 and taken.headers["location"] == "/console/callbacks?show=mine&saved=assigned"
    event = await console.recv_until(lambda f: f["type"] == "callback.updated")
    assert (event["callback"]["id"], event["callback"]["assignee_id"], event["by"], event["change"],
            event["operator_id"]) == (first, olga.id, "operator", "assigned", olga.id)
    mine = (await http.get("/console/callbacks?show=mine&lang=ru")).text
    assert f'id="cb-{first}"' in mine and f'id="cb-{second}"' not in mine
    assert "Назначен: Ольга (вам)" in row_of(mine, first)
    nobody = (await http.get("/console/callbacks?show=nobody")).text
    assert f'id="cb-{first}"' not in nobody and f'id="cb-{second}"' not in nobody

    # An operator who does not work the site cannot be given it: the error names it; nothing changes.
    refused = await http.post(f"/console/callbacks/{second}/assign", follow_redirects=True,
                              data={"csrf_token": token_csrf, "assignee_id": str(outsider.id)})
    assert "Выберите активного оператора, который работает с сайтом этого звонка." in refused.text
    odd = await http.post(f"/console/callbacks/{second}/assign", follow_redirects=True,
                          data={"csrf_token": token_csrf, "assignee_id": "not-a-number"})
    assert "Выберите активного оператора" in odd.text
    assert (await stored(desk, second)).assignee_id == ivan.id
    # The queue offers only operators of the site (the outsider is not in the list).
    options = row_of(page, second)
    assert f'value="{ivan.id}" selected' in options and f'value="{outsider.id}"' not in options
    # Ivan's feed: his and nobody's callbacks, not Olga's.
    ivan_http = await console_login(desk, ivan.email, PASSWORD)
    ivan_csrf = csrf((await ivan_http.get("/console/callbacks")).text)
    made = await ivan_http.post("/console/callbacks/feed", data={"csrf_token": ivan_csrf, "action": "new"})
    feed_url = re.search(r'<code id="fd-feed-url">([^<]+)</code>', made.text)
    assert feed_url
    async with httpx.AsyncClient() as anyone:
        feed = (await anyone.get(feed_url.group(1))).text
    assert f"callback-{second}@frontdesk" in feed and f"callback-{first}@frontdesk" not in feed

    # Given back to nobody; then Ivan calls it ("no answer"): whoever calls a nobody's callback owns the next try.
    await http.post(f"/console/callbacks/{first}/assign", data={"csrf_token": token_csrf, "assignee_id": ""})
    event = await console.recv_until(lambda f: f["type"] == "callback.updated" and f["callback"]["id"] == first)
    assert event["callback"]["assignee_id"] is None
    await ivan_http.post(f"/console/callbacks/{first}", data={"csrf_token": ivan_csrf, "outcome": "no_answer",
                                                              "retry_in_minutes": "15"})
    event = await console.recv_until(lambda f: f["type"] == "callback.updated" and f["callback"]["status"] == "no_answer")
    assert event["callback"]["assignee_id"] == ivan.id
    # A closed callback is not reassigned.
    await ivan_http.post(f"/console/callbacks/{first}", data={"csrf_token": ivan_csrf, "outcome": "done"})
    closed = await http.post(f"/console/callbacks/{first}/assign", follow_redirects=True,
                             data={"csrf_token": token_csrf, "assignee_id": str(olga.id)})
    assert "error=" in str(closed.url) and (await stored(desk, first)).assignee_id == ivan.id
    await console.close()
    await http.aclose()
    await ivan_http.aclose()


async def due_now(server: ServerProcess, callback_id: str) -> None:
    """The callback (and its reminder) falls due in a second."""
    due = utcnow() + timedelta(seconds=1)
    async with opened(settings_for(server)) as state:
        await state.db.transaction(lambda conn: (
            conn.execute(update(callback_reminders).where(callback_reminders.c.callback_id == callback_id)
                         .values(due_at=due, next_attempt_at=due)),
            conn.execute(update(callback_table).where(callback_table.c.id == callback_id).values(due_at=due)),
        ))


async def emails_for(server: ServerProcess, template: str, site_id: int) -> list[Any]:
    async with opened(settings_for(server)) as state:
        return await state.db.read(lambda conn: list(conn.execute(
            select(emails).where((emails.c.template == template) & (emails.c.site_id == site_id)))))


async def test_the_email_reminder_goes_to_the_assignee_once_in_their_language(
    desk: ServerProcess, mailbox: Mailbox
) -> None:
    site = await callback_site(desk, tz="Asia/Almaty")
    dinara = await make_operator(desk, name="Динара", role="agent", site_keys=[site.key])
    colleague = await make_operator(desk, name="Colleague", role="agent", site_keys=[site.key])
    async with opened(settings_for(desk)) as state:
        await operators.set_language(state.writer, dinara.id, "kk")
    origin = site.allowed_origins[0]
    token = (await start_visitor(desk, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][3]["start"]
        booked = await book(client, site, token, slot=slot, name="<b>Асель</b>", note="Жеткізу туралы")
    callback_id = booked.json()["callback"]["id"]
    http = await console_login(desk, dinara.email, PASSWORD)
    page = (await http.get("/console/callbacks")).text
    await http.post(f"/console/callbacks/{callback_id}/assign", data={"csrf_token": csrf(page), "assignee_id": str(dinara.id)})
    await http.aclose()

    await due_now(desk, callback_id)
    mailbox.wait_for(lambda m: len(m.to(dinara.email)) >= 1, "the reminder to Dinara")
    message = mailbox.to(dinara.email)[0]
    assert message["Subject"] == "Қайта қоңырау шалатын уақыт: <b>Асель</b> (" + site.name + ")"
    text, html = parts(message)
    due = (await stored(desk, callback_id)).due_at.replace(tzinfo=timezone.utc)
    local = due.astimezone(ZoneInfo("Asia/Almaty"))
    assert f"{local:%H:%M}" in text and "(Алматы)" in text  # the time in her words, the site's zone
    assert "tel:+77011234567" in text and 'href="tel:+77011234567"' in html
    assert f"{desk.url}/console/callbacks#cb-{callback_id}" in text
    assert f'href="{desk.url}/console/callbacks#cb-{callback_id}"' in html
    assert "Бұл қоңырау сізге тағайындалған." in text and "Жеткізу туралы" in text
    assert "&lt;b&gt;Асель&lt;/b&gt;" in html and "<b>Асель" not in html  # the visitor's words as text
    # Once: one queued email, the colleague got none, and nothing more comes.
    await asyncio.sleep(2)
    assert len(mailbox.to(dinara.email)) == 1 and mailbox.to(colleague.email) == []
    assert len(await emails_for(desk, "callback_due", site.id)) == 1


async def test_an_unassigned_reminder_emails_every_operator_of_the_site(desk: ServerProcess, mailbox: Mailbox) -> None:
    site = await callback_site(desk)
    other = await make_site(desk)
    here = [await make_operator(desk, role="agent", site_keys=[site.key]) for _ in range(2)]
    away = await make_operator(desk, role="agent", site_keys=[other.key])
    deactivated = await make_operator(desk, role="agent", site_keys=[site.key])
    async with opened(settings_for(desk)) as state:
        await operators.set_language(state.writer, here[1].id, "uk")
        await operators.set_active(state.writer, deactivated.id, False)
    token = (await start_visitor(desk, site.key, site.allowed_origins[0]))["token"]
    async with httpx.AsyncClient(base_url=desk.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][0]["start"]
        callback_id = (await book(client, site, token, slot=slot)).json()["callback"]["id"]
    await due_now(desk, callback_id)
    for operator in here:
        mailbox.wait_for(lambda m, o=operator: len(m.to(o.email)) >= 1, f"the reminder to {operator.email}")
    uk = mailbox.to(here[1].email)[0]
    assert uk["Subject"].startswith("Час передзвонити: +7 701 123 45 67")
    assert "Цей дзвінок ще ніхто не взяв" in parts(uk)[0]
    await asyncio.sleep(1)
    assert mailbox.to(away.email) == []  # not their site
    # Every operator of the site (those limited to it, and those who work every site), once each.
    rows = await emails_for(desk, "callback_due", site.id)
    assert sorted(r.to_address for r in rows).count(here[0].email) == 1
    assert away.email not in [r.to_address for r in rows] and deactivated.email not in [r.to_address for r in rows]
