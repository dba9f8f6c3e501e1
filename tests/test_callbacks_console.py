"""The console's callback queue over HTTP: groups, tel: links, the status flow with every
attempt recorded, the .ics download and the operator's private calendar feed."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

from tests.clients import connect_operator, console_login, start_visitor
from tests.factories import PASSWORD, make_operator
from tests.servers import ServerProcess
from tests.test_callbacks import book, callback_site, offer


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_the_queue_the_status_flow_and_calendars(server: ServerProcess) -> None:
    site = await callback_site(server, tz="Asia/Almaty")
    operator = await make_operator(server, name="Динара")
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    origin = site.allowed_origins[0]
    token = (await start_visitor(server, site.key, origin))["token"]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slot = (await offer(client, site))["days"][1]["slots"][2]
        booked = await book(client, site, token, slot=slot["start"], name="<b>Asel</b>", note="Про доставку\nи оплату",
                            tz="Europe/Kyiv")
    callback_id = booked.json()["callback"]["id"]

    page = (await http.get("/console/callbacks?lang=ru")).text
    row = page[page.index(f'id="cb-{callback_id}"'):]
    row = row[:row.index("</li>")]
    assert 'href="tel:+77011234567"' in row and "+7 701 123 45 67" in row
    assert "&lt;b&gt;Asel&lt;/b&gt;" in row  # the visitor's words as text
    assert "(Алматы)" in row and "время посетителя" in row  # the site's time, and the visitor's beside it
    start = utc(slot["start"])
    assert start.astimezone(ZoneInfo("Asia/Almaty")).strftime("%H:%M") in row

    # .ics: the slot's UTC time, the phone as a tel: location.
    ics = await http.get(f"/console/callbacks/{callback_id}.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert re.search(rb"DTSTART:\d{8}T\d{6}Z", ics.content)  # written in UTC
    assert event.decoded("dtstart") == start and str(event.get("location")) == "tel:+77011234567"
    assert "Про доставку\nи оплату" in str(event.get("description"))

    # No answer -> call again in 15 minutes; the attempt is recorded with who and when.
    form = {"csrf_token": csrf(page), "outcome": "no_answer", "retry_in_minutes": "15"}
    before = datetime.now(timezone.utc)
    answer = await http.post(f"/console/callbacks/{callback_id}", data=form)
    assert answer.status_code == 303
    updated = await console.recv_until(lambda f: f["type"] == "callback.updated")
    assert updated["callback"]["status"] == "no_answer"
    due = utc(updated["callback"]["due_at"])
    assert 14 * 60 <= (due - before).total_seconds() <= 16 * 60
    page = (await http.get("/console/callbacks?lang=ru")).text
    assert "Динара: Не ответили" in page
    assert 'id="fd-cb-h-due_now"' in page and page.index(f'id="cb-{callback_id}"') < page.index('id="fd-cb-h-overdue"')

    # A bad outcome is refused, naming it; nothing changes.
    bad = await http.post(f"/console/callbacks/{callback_id}", data={**form, "outcome": "maybe"}, follow_redirects=True)
    assert "Выберите, чем закончился звонок" in bad.text or "Choose how the call went" in bad.text

    # The private feed: made, parsed, then revoked.
    made = await http.post("/console/callbacks/feed", data={"csrf_token": csrf(page), "action": "new"}, follow_redirects=True)
    feed_url = re.search(r'<code id="fd-feed-url">([^<]+)</code>', made.text)
    assert feed_url
    async with httpx.AsyncClient() as anyone:
        served = await anyone.get(feed_url.group(1))
        assert served.status_code == 200
        events = {str(e.get("uid")): e for e in Calendar.from_ical(served.content).walk("VEVENT")}
        assert events[f"callback-{callback_id}@frontdesk"].decoded("dtstart") == due.replace(microsecond=0)
        await http.post("/console/callbacks/feed", data={"csrf_token": csrf(page), "action": "revoke"})
        assert (await anyone.get(feed_url.group(1))).status_code == 404

    done = await http.post(f"/console/callbacks/{callback_id}", data={"csrf_token": csrf(page), "outcome": "done"})
    assert done.status_code == 303
    final = await console.recv_until(lambda f: f["type"] == "callback.updated" and f["callback"]["status"] == "done")
    assert final["by"] == "operator" and final["callback"]["operator_id"] == operator.id
    page = (await http.get("/console/callbacks")).text
    assert f'id="cb-{callback_id}"' not in page  # done: off the queue
    await console.close()
    await http.aclose()


async def test_the_queue_needs_a_login(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anyone:
        assert (await anyone.get("/console/callbacks")).status_code == 303
        assert (await anyone.post("/console/callbacks/x", data={"outcome": "done"})).status_code == 303
        assert (await anyone.get("/calendar/not-a-real-feed-token-at-all.ics")).status_code == 404


async def test_call_again_at_a_slot_and_wrong_number(server: ServerProcess) -> None:
    site = await callback_site(server, capacity=1)
    operator = await make_operator(server)
    http = await console_login(server, operator.email, PASSWORD)
    console = await connect_operator(server, http)
    origin = site.allowed_origins[0]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slots = (await offer(client, site))["days"][1]["slots"]
        first = (await book(client, site, (await start_visitor(server, site.key, origin))["token"],
                            slot=slots[0]["start"])).json()["callback"]["id"]
        second = (await book(client, site, (await start_visitor(server, site.key, origin))["token"],
                             slot=slots[1]["start"])).json()["callback"]["id"]
    page = (await http.get("/console/callbacks?lang=ru")).text
    token = csrf(page)
    offered = re.findall(r'<option value="([^"]+T[^"]+)">', row_html(page, first))
    assert offered, "no slot offered to call again at"
    # "No answer", call again at one of the offered slots: due then; a past time is refused, naming it.
    past = await http.post(f"/console/callbacks/{first}", follow_redirects=True, data={
        "csrf_token": token, "outcome": "no_answer", "retry_at": "2020-01-01T10:00:00+00:00"})
    assert "error=" in str(past.url)
    again = await http.post(f"/console/callbacks/{first}", data={
        "csrf_token": token, "outcome": "no_answer", "retry_at": offered[2]})
    assert again.status_code == 303 and "saved=no_answer" in again.headers["location"]
    # Wrong number: closed, and its slot's place is given back to visitors.
    await http.post(f"/console/callbacks/{second}", data={"csrf_token": token, "outcome": "wrong_number"})
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        free = [s["start"] for d in (await offer(client, site))["days"] for s in d["slots"]]
    assert slots[1]["start"] in free and slots[0]["start"] not in free
    # Each change is an event on the spine (what webhooks carry): the retry's due time, the wrong number.
    retry = await console.recv_until(lambda f: f["type"] == "callback.updated" and f["callback"]["id"] == first)
    assert utc(retry["callback"]["due_at"]) == utc(offered[2]) and retry["callback"]["status"] == "no_answer"
    wrong = await console.recv_until(lambda f: f["type"] == "callback.updated" and f["callback"]["id"] == second)
    assert wrong["callback"]["status"] == "wrong_number" and wrong["callback"]["operator_id"] == operator.id
    page = (await http.get("/console/callbacks?lang=ru")).text
    assert f'id="cb-{second}"' not in page and "Не ответили" in row_html(page, first)
    await console.close()
    await http.aclose()


def row_html(page: str, callback_id: str) -> str:
    start = page.index(f'id="cb-{callback_id}"')
    return page[start:page.index("</li>", start)]
