"""The contact form's endpoint against a real server and a real SMTP server: a submission
becomes a visitor, a conversation, a contact.submitted event and emails; a double submit
is one; every bad field is named in the visitor's language; robots and floods are refused
politely while a person is never blocked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from server.cli import opened
from server.store import contacts as contact_store
from server.store.schema import events
from server.store.sites import Site
from tests.clients import console_login, start_visitor
from tests.conftest import BACKENDS, served
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.mailbox import Mailbox, parts
from tests.servers import ServerProcess

# A shared server's visitors all come from 127.0.0.1: per-address limits get a server of their own.
OPEN_LIMITS = {"FRONTDESK_CONTACT_PER_IP_PER_HOUR": "100000", "FRONTDESK_CONTACT_PER_SITE_PER_MINUTE": "100000"}


@pytest.fixture(scope="module", params=BACKENDS)
def contact_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[ServerProcess]:
    env = mailbox.env(**OPEN_LIMITS)
    with served(request.param, tmp_path_factory.mktemp("contact-" + request.param), **env) as proc:
        yield proc


def aged_ticket(server: ServerProcess, site: Site, seconds: float = 60) -> str:
    """A form ticket issued ``seconds`` ago: the form was open that long (as a person's is)."""
    forms = URLSafeTimedSerializer(settings_for(server).resolved_secret_key(), salt="frontdesk.form")  # as Signer's
    with mock.patch("itsdangerous.timed.time.time", return_value=time.time() - seconds):
        return forms.dumps(site.id)


async def contact_site(server: ServerProcess, **kwargs: Any) -> Site:
    kwargs.setdefault("contact", True)
    return await make_site(server, **kwargs)


def form(server: ServerProcess, site: Site, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": "Ivan", "email": "ivan@example.com", "message": "Do you deliver to Almaty?",
            "consent": True, "ticket": aged_ticket(server, site), **fields}


async def post(
    server: ServerProcess, site: Site, body: dict[str, Any], *, origin: str | None = None, lang: str = "en",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:  # a loaded CI machine answers a burst slowly
        return await client.post(
            f"{server.url}/api/widget/v1/sites/{site.key}/contact", json=body,
            headers={"Origin": origin or site.allowed_origins[0], "Accept-Language": lang, **(headers or {})},
        )


async def test_config_offers_the_contact_tab_with_consent_and_a_ticket(contact_server: ServerProcess) -> None:
    site = await contact_site(
        contact_server, consent_text={"": "I agree.", "ru": "Я согласен."}, privacy_url="https://shop.test/privacy",
        contact_required="name,email",
    )
    plain = await make_site(contact_server)
    async with httpx.AsyncClient() as client:
        on = (await client.get(f"{contact_server.url}/api/widget/v1/sites/{site.key}/config?lang=ru",
                               headers={"Origin": site.allowed_origins[0]})).json()["site"]
        off = (await client.get(f"{contact_server.url}/api/widget/v1/sites/{plain.key}/config",
                                headers={"Origin": plain.allowed_origins[0]})).json()["site"]
    assert on["tabs"] == ["chat", "contact"] and off["tabs"] == ["chat"] and off["contact"] is None
    contact = on["contact"]
    assert contact["required"] == ["name", "email"] and contact["privacy_url"] == "https://shop.test/privacy"
    assert contact["consent"] == "Я согласен."
    assert contact["consents"]["ru"] == "Я согласен." and contact["consents"]["kk"] == "I agree."
    assert contact["ticket"]


async def test_a_submission_becomes_a_conversation_an_event_and_emails_once(
    contact_server: ServerProcess, mailbox: Mailbox, seq: int
) -> None:
    notify = f"desk{seq}@example.com"
    site = await contact_site(contact_server, consent_text="Я согласен на обработку данных.", notify_email=notify)
    operator = await make_operator(contact_server)
    session = await start_visitor(contact_server, site.key, site.allowed_origins[0])
    visitor_email = f"ivan{seq}@example.com"
    body = form(
        contact_server, site, name="Иван <b>", email=visitor_email, phone="8 701 123 45 67", copy=True,
        message='Привет! <script>alert("x")</script>', token=session["token"], language="ru",
    )

    first, again = await post(contact_server, site, body, lang="ru"), await post(contact_server, site, body, lang="ru")

    assert first.status_code == 200, first.text
    assert first.json()["created"] is True and again.json()["created"] is False
    submission = first.json()["submission"]
    assert again.json()["submission"] == submission
    assert first.json()["token"]  # the widget keeps it: the chat shows the replies
    # In the console: the conversation with the message, the visitor known by name, email, phone.
    http = await console_login(contact_server, operator.email, PASSWORD)
    try:
        messages = (await http.get(f"/api/console/v1/conversations/{submission['conversation_id']}/messages")).json()
        inbox = (await http.get("/api/console/v1/conversations")).json()
    finally:
        await http.aclose()
    assert [m["body"] for m in messages["messages"]] == ['Привет! <script>alert("x")</script>']
    [summary] = [c for c in inbox["conversations"] if c["id"] == submission["conversation_id"]]
    assert summary["visitor"]["id"] == session["visitor"]["id"]  # the visitor who wrote, not a new one
    # "8 701 …" typed in Russian: read with the national prefix of +7 (a Kazakh mobile).
    assert (summary["visitor"]["name"], summary["visitor"]["email"], summary["visitor"]["phone"]) == (
        "Иван <b>", visitor_email, "+77011234567"
    )
    # One event on the spine, and the consent stored with its text and time.
    async with opened(settings_for(contact_server)) as state:
        types = await state.db.read(lambda conn: conn.execute(
            select(events.c.type).where(events.c.conversation_id == submission["conversation_id"]).order_by(events.c.id)
        ).scalars().all())
        [stored] = await state.db.read(lambda conn: contact_store.list_submissions(conn, site.id))
    assert types == ["conversation.created", "message.created", "contact.submitted"]
    assert stored.consent_text == "Я согласен на обработку данных." and stored.consent_at is not None
    # The site's notification address and the visitor's copy, each once.
    mailbox.wait_for(lambda m: m.to(notify) and m.to(visitor_email), "the notification and the copy")
    [note], [copy] = mailbox.to(notify), mailbox.to(visitor_email)
    assert note["Reply-To"] == visitor_email and "Иван <b>" in note["Subject"]
    text, html = parts(note)
    assert 'Привет! <script>alert("x")</script>' in text and "<script>" not in html and "&lt;script&gt;" in html
    assert copy["Subject"] == f"Ваше сообщение для {site.name}"


@pytest.mark.parametrize("fields, field, message", [
    ({"email": None, "phone": None}, "email", "Оставьте email или номер телефона, чтобы мы могли вам ответить."),
    ({"email": "not an email"}, "email", "Введите правильный адрес электронной почты."),
    ({"phone": "12"}, "phone", None),
    ({"consent": False}, "consent", "Отметьте, пожалуйста, согласие, чтобы мы могли сохранить сообщение и ответить вам."),
    ({"message": "   "}, "message", "Напишите сообщение."),
    ({"message": "x" * 5001}, "message", None),
    ({"name": 5}, "name", None),
    ({"id": "short"}, "id", None),
])
async def test_each_bad_field_is_named_in_the_visitors_language(
    contact_server: ServerProcess, fields: dict[str, Any], field: str, message: str | None
) -> None:
    site = await contact_site(contact_server)
    response = await post(contact_server, site, form(contact_server, site, **fields), lang="ru")
    assert response.status_code in (400, 413), response.text
    error = response.json()["error"]
    assert error["field"] == field
    if message:
        assert error["message"] == message
    async with opened(settings_for(contact_server)) as state:
        assert await state.db.read(lambda conn: contact_store.list_submissions(conn, site.id)) == []


async def test_the_site_chooses_what_is_required(contact_server: ServerProcess) -> None:
    site = await contact_site(contact_server, contact_required="name,phone")
    no_phone = await post(contact_server, site, form(contact_server, site, phone=None))
    no_name = await post(contact_server, site, form(contact_server, site, name=None, phone="+77011234567"))
    enough = await post(contact_server, site, form(contact_server, site, email=None, phone="+7 701 123 45 67"))
    assert (no_phone.status_code, no_phone.json()["error"]["field"]) == (400, "phone")
    assert (no_name.status_code, no_name.json()["error"]["field"]) == (400, "name")
    assert enough.status_code == 200, enough.text


async def test_other_origins_and_sites_without_the_form_are_refused(contact_server: ServerProcess) -> None:
    site, plain = await contact_site(contact_server), await make_site(contact_server)
    foreign = await post(contact_server, site, form(contact_server, site), origin="https://evil.test")
    off = await post(contact_server, plain, form(contact_server, plain))
    assert foreign.status_code == 403 and off.status_code == 404


async def test_honeypot_and_too_fast_are_refused_politely_and_a_person_passes(contact_server: ServerProcess) -> None:
    site = await contact_site(contact_server)
    hasty_form = form(contact_server, site)
    async with httpx.AsyncClient() as client:
        config = (await client.get(f"{contact_server.url}/api/widget/v1/sites/{site.key}/config",
                                   headers={"Origin": site.allowed_origins[0]})).json()
        # Sent the moment the form is there (the minimum is 3 s): what only a program does.
        hasty = await client.post(
            f"{contact_server.url}/api/widget/v1/sites/{site.key}/contact",
            json={**hasty_form, "ticket": config["site"]["contact"]["ticket"]},
            headers={"Origin": site.allowed_origins[0], "Accept-Language": "kk"},
        )

    robot = await post(contact_server, site, form(contact_server, site, website="http://spam.test"), lang="uk")
    forged = await post(contact_server, site, form(contact_server, site, ticket="made-up"))
    person = await post(contact_server, site, form(contact_server, site, website=""))

    assert robot.status_code == 400 and robot.json()["error"]["code"] == "not_accepted"
    assert "оновіть сторінку" in robot.json()["error"]["message"]
    assert hasty.status_code == 400
    assert hasty.json()["error"]["message"] == "Өте жылдам! Форманы тексеріп, бірнеше секундтан кейін қайта жіберіңіз."
    assert forged.status_code == 400 and forged.json()["error"]["field"] == "ticket"
    assert person.status_code == 200, person.text


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"FRONTDESK_CONTACT_PER_IP_PER_HOUR": "3", "FRONTDESK_CONTACT_PER_SITE_PER_MINUTE": "5",
           "FRONTDESK_TRUSTED_PROXIES": "127.0.0.1"}
    with served("sqlite", tmp_path, **env) as proc:
        yield proc


async def test_rate_limits_hold_under_a_burst_and_a_person_is_not_blocked(limited_server: ServerProcess) -> None:
    site, other = await contact_site(limited_server), await contact_site(limited_server)

    def from_ip(ip: str) -> dict[str, str]:
        return {"X-Forwarded-For": ip}

    # One address, a burst of 10 at once: 3 pass (the hourly allowance), the rest are refused politely.
    burst = await asyncio.gather(*[
        post(limited_server, site, form(limited_server, site), headers=from_ip("203.0.113.7"), lang="ru")
        for _ in range(10)
    ])
    codes = sorted(r.status_code for r in burst)
    assert codes == [200] * 3 + [429] * 7
    refused = next(r for r in burst if r.status_code == 429)
    assert refused.json()["error"]["limit"] == "contact_per_ip" and "Retry-After" in refused.headers
    assert refused.json()["error"]["message"].startswith("Спасибо, у нас уже есть несколько ваших сообщений.")
    # A repeat of an accepted submission (a double click) is answered, not counted.
    accepted = next(r for r in burst if r.status_code == 200)
    # Many addresses at once against one site: the site's limit (5 a minute) holds.
    spread = await asyncio.gather(*[
        post(limited_server, other, form(limited_server, other), headers=from_ip(f"198.51.100.{i}")) for i in range(8)
    ])
    assert sorted(r.status_code for r in spread) == [200] * 5 + [429] * 3
    # A person on another address writing to the first site is not blocked by any of that.
    person = await post(limited_server, site, form(limited_server, site), headers=from_ip("192.0.2.55"))
    assert person.status_code == 200, person.text
    assert accepted.json()["created"] is True


async def test_without_an_smtp_server_the_form_works_and_no_mail_is_queued(sqlite_server: ServerProcess) -> None:
    from server.store import emails as email_store

    site = await contact_site(sqlite_server)
    response = await post(sqlite_server, site, form(sqlite_server, site, copy=True))
    assert response.status_code == 200, response.text
    async with opened(settings_for(sqlite_server)) as state:
        queued = await state.db.read(lambda conn: email_store.list_emails(conn, site_id=site.id))
    assert queued == []  # nothing would send it: queueing it would only send stale mail later


async def test_a_submission_joins_the_lead_of_the_same_email(sqlite_server: ServerProcess) -> None:
    """Someone who chatted and gave their email, then sends the form from another browser with
    the same address (typed differently): one lead, the two visitors in it."""
    from tests.clients import connect_visitor, new_id

    site = await contact_site(sqlite_server)
    session = await start_visitor(sqlite_server, site.key, site.allowed_origins[0])
    chat, _ = await connect_visitor(sqlite_server, site.key, site.allowed_origins[0], session["token"])
    await chat.send({"type": "visitor.identify", "id": new_id(), "email": "olena@example.com"})
    await chat.recv_until(lambda f: f.get("type") == "identified")
    await chat.close()
    response = await post(sqlite_server, site, form(sqlite_server, site, name="Олена", email="Olena@Example.com",
                                                    phone="+380 44 123 4567"))
    assert response.status_code == 200, response.text
    async with opened(settings_for(sqlite_server)) as state:
        rows = await state.db.read(
            lambda conn: conn.execute(select(events.c.type, events.c.payload).where(events.c.site_id == site.id)).all()
        )
    types = [r.type for r in rows]
    assert types.count("lead.created") == 2 and "lead.merged" in types, types
    merged = next(r.payload for r in rows if r.type == "lead.merged")
    survivor = (merged if isinstance(merged, dict) else json.loads(merged))["lead"]
    assert (survivor["email"], survivor["name"], survivor["phone"]) == ("olena@example.com", "Олена", "+380441234567")
