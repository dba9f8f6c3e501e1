"""Email sending core against a real SMTP server (aiosmtpd): headers, multipart, escaping,
the recipient's language, and an SMTP outage that delays mail without losing or doubling it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from server.cli import opened
from server.services.emails import TEMPLATES, EmailRenderer, queue_email
from server.catalogs import Catalogs
from server.locales import LANGUAGES
from server.store import emails as email_store
from tests.conftest import BACKENDS, served
from tests.factories import settings_for
from tests.mailbox import Mailbox, parts
from tests.servers import ServerProcess


@pytest.fixture(scope="module", params=BACKENDS)
def mail_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox
) -> Iterator[ServerProcess]:
    with served(request.param, tmp_path_factory.mktemp("mail-" + request.param), **mailbox.env()) as proc:
        yield proc


async def queue(server: ServerProcess, **kwargs: Any) -> int:
    """Queue an email the way a service does: inside a write job of its own."""
    async with opened(settings_for(server)) as state:
        return await state.writer.run(lambda tx: queue_email(tx, **kwargs))


async def rows_when(server: ServerProcess, done: Callable[[list[dict[str, Any]]], bool], site_id: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    async with opened(settings_for(server)) as state:
        while True:
            rows = await state.db.read(lambda conn: email_store.list_emails(conn, site_id=site_id))
            if done(rows) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.1)


_site_ids = iter(range(10_000, 20_000))  # emails need no site row: a number tells tests' rows apart


async def test_arrives_multipart_with_headers_in_the_recipients_language_and_escaped(
    mail_server: ServerProcess, mailbox: Mailbox
) -> None:
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    await queue(
        mail_server, to="olga@aurora.test", template="contact_submitted", lang="ru", site_id=next(_site_ids),
        reply_to="ivan@example.com",
        context={"site_name": "Aurora <Coffee>", "who": "Иван <img src=x onerror=alert(1)>", "name": "Иван",
                 "email": "ivan@example.com", "phone": None, "message": hostile, "console_url": "http://x.test/console/"},
    )
    mailbox.wait_for(lambda m: m.to("olga@aurora.test"), "the notification")
    [message] = mailbox.to("olga@aurora.test")
    assert message["From"] == "Aurora Desk <desk@aurora.test>"
    assert message["To"] == "olga@aurora.test"
    assert message["Reply-To"] == "ivan@example.com"
    assert message["Subject"] == "Новое сообщение от Иван <img src=x onerror=alert(1)> на сайте Aurora <Coffee>"
    assert message["Message-ID"].endswith("@aurora.test>")
    assert message["Content-Language"] == "ru"
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert hostile in text and "Иван" in text and "Эл. почта: ivan@example.com" in text
    assert "<script>" not in html and "<img" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "Aurora &lt;Coffee&gt;" in html
    assert "Открыть разговор во Frontdesk" in html


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[tuple[ServerProcess, Mailbox]]:
    """A server whose SMTP server is down: its mailbox is not started (connection refused)."""
    box = Mailbox()
    with served("sqlite", tmp_path, **box.env()) as server:
        yield server, box
    box.stop()


async def test_smtp_down_then_up_each_mail_arrives_once(outage: tuple[ServerProcess, Mailbox]) -> None:
    """The server is pointed at a port where nothing listens; mail waits and retries, then
    arrives once each when the SMTP server comes up."""
    server, outage_box = outage
    site_id = next(_site_ids)
    ids = [
        await queue(server, to=f"visitor{i}@example.com", template="contact_copy", lang="en", site_id=site_id,
                    context={"site_name": "Aurora", "message": f"Message {i}"})
        for i in range(3)
    ]
    rows = await rows_when(server, lambda rows: all(r["attempts"] >= 2 for r in rows), site_id)
    assert [r["status"] for r in rows] == ["pending"] * 3, rows
    assert all("refused" in (r["last_error"] or "").lower() or "connect" in (r["last_error"] or "").lower() for r in rows), rows
    outage_box.start()
    try:
        outage_box.wait_for(lambda m: len(m.messages) >= 3, "three emails after the outage")
        rows = await rows_when(server, lambda rows: all(r["status"] == "done" for r in rows), site_id)
        assert [r["id"] for r in rows] == ids and all(r["status"] == "done" and r["sent_at"] for r in rows)
        # Every claim's outcome was recorded (none lost, none still to be retried): nothing more will be sent.
        assert all(r["claims"] == r["attempts"] and r["lease_owner"] is None for r in rows), rows
        ids_seen = [m["Message-ID"] for m in outage_box.messages]
        assert len(ids_seen) == 3 and len(set(ids_seen)) == 3
        assert sorted(m["To"] for m in outage_box.messages) == [f"visitor{i}@example.com" for i in range(3)]
    finally:
        outage_box.stop()


def test_every_template_renders_in_every_language() -> None:
    renderer = EmailRenderer(Catalogs())
    context = {"site_name": "Aurora", "who": "Ivan", "name": "Ivan", "email": "i@example.com", "phone": "+77011234567",
               "message": "Hi", "console_url": "http://x.test/", "operator_name": "Olga", "body": "Hello",
               "can_reply": True, "phone_display": "+7 701 123 45 67", "when": "2 Mar 2026, 11:05 (Almaty)",
               "asap": True, "asked": "2 Mar 2026, 10:55 (Almaty)", "note": "About delivery", "assigned": False,
               "queue_url": "http://x.test/console/callbacks#cb-1"}
    for template in TEMPLATES:
        for lang in LANGUAGES:
            rendered = renderer.render(template, lang, context)
            untranslated = re.compile(r"email\.[a-z_]+\.")  # a catalogue key shown instead of its text
            assert rendered.subject and not untranslated.search(rendered.subject), (template, lang)
            assert not untranslated.search(rendered.text + rendered.html), (template, lang)
