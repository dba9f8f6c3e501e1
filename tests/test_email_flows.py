"""Email flows end to end against real servers: an operator's reply in a conversation from
the contact form goes out by email with a signed Reply-To; the visitor's answer to it,
sent to the built-in SMTP receiver, lands in the same conversation (once); a forged reply
address is refused; a chat message while nobody is online is emailed to the operators, and
so is one while only an operator of another site is online."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import aiosmtplib
import pytest
from email.message import EmailMessage

from sqlalchemy import select

from server.cli import opened
from server.store.schema import emails
from tests.clients import connect_operator, connect_visitor, console_login, new_id, start_visitor
from tests.conftest import served
from tests.factories import PASSWORD, make_operator, make_site, settings_for
from tests.mailbox import Mailbox, parts
from tests.servers import ServerProcess, free_port
from tests.test_contact import OPEN_LIMITS, form, post

REPLY_DOMAIN = "reply.example.com"


@pytest.fixture(scope="module")
def flow_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[ServerProcess]:
    env = mailbox.env(
        **OPEN_LIMITS, FRONTDESK_INBOUND_SMTP_PORT=str(free_port()), FRONTDESK_REPLY_DOMAIN=REPLY_DOMAIN,
    )
    with served("sqlite", tmp_path_factory.mktemp("flows"), **env) as proc:
        yield proc


async def messages_of(server: ServerProcess, operator_email: str, conversation_id: str, count: int) -> list[str]:
    http = await console_login(server, operator_email, PASSWORD)
    try:
        deadline = time.monotonic() + 20
        while True:
            bodies = [m["body"] for m in (await http.get(f"/api/console/v1/conversations/{conversation_id}/messages")).json()["messages"]]
            if len(bodies) >= count or time.monotonic() > deadline:
                return bodies
            await asyncio.sleep(0.1)
    finally:
        await http.aclose()


async def test_reply_by_email_and_the_answer_comes_back_into_the_conversation(
    flow_server: ServerProcess, mailbox: Mailbox, seq: int
) -> None:
    site = await make_site(flow_server, contact=True, notify_email=f"desk{seq}@example.com")
    operator = await make_operator(flow_server, name="Olga <Support>")
    visitor_email = f"maria{seq}@example.com"
    sent = await post(flow_server, site, form(flow_server, site, email=visitor_email, language="uk",
                                               message="Чи доставляєте ви до Львова?"), lang="uk")
    conversation_id = sent.json()["submission"]["conversation_id"]

    http = await console_login(flow_server, operator.email, PASSWORD)
    console = await connect_operator(flow_server, http)
    try:
        await console.send({"type": "message.send", "id": new_id(), "conversation_id": conversation_id,
                            "body": "Так, <b>доставляємо</b> за 2 дні."})
        await console.recv_until(lambda f: f["type"] == "ack")
    finally:
        await console.close()
        await http.aclose()

    mailbox.wait_for(lambda m: m.to(visitor_email), "the operator's reply by email")
    [reply] = mailbox.to(visitor_email)
    assert reply["Subject"] == f"Відповідь від {site.name}"
    reply_to = reply["Reply-To"]
    assert reply_to.startswith(f"reply+{conversation_id}.") and reply_to.endswith("@" + REPLY_DOMAIN)
    text, html = parts(reply)
    assert "Так, <b>доставляємо</b> за 2 дні." in text and "&lt;b&gt;доставляємо&lt;/b&gt;" in html
    assert "Olga &lt;Support&gt;" in html and "просто дайте відповідь на цей лист" in text

    answer = EmailMessage()
    answer["From"], answer["To"], answer["Subject"] = visitor_email, reply_to, "Re: " + reply["Subject"]
    answer["Message-ID"] = f"<answer-{seq}@example.com>"
    answer.set_content("Чудово, дякую!\n\nOn Mon, Olga wrote:\n> Так, доставляємо за 2 дні.\n")
    port = int(flow_server.env["FRONTDESK_INBOUND_SMTP_PORT"])
    for _ in range(2):  # a sending server that delivers twice: stored once
        await aiosmtplib.send(answer, hostname="127.0.0.1", port=port, start_tls=False)
    forged = reply_to.replace(".", ".0", 1)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(answer, recipients=[forged], hostname="127.0.0.1", port=port, start_tls=False)

    bodies = await messages_of(flow_server, operator.email, conversation_id, 3)
    assert bodies == ["Чи доставляєте ви до Львова?", "Так, <b>доставляємо</b> за 2 дні.", "Чудово, дякую!"]


async def test_a_chat_message_while_nobody_is_online_is_emailed_to_the_operators(
    flow_server: ServerProcess, mailbox: Mailbox, seq: int
) -> None:
    notify = f"night{seq}@example.com"
    site = await make_site(flow_server, notify_email=notify, language="ru")
    session = await start_visitor(flow_server, site.key, site.allowed_origins[0])
    visitor, _ = await connect_visitor(flow_server, site.key, site.allowed_origins[0], session["token"])
    try:
        for body in ["Здравствуйте, вы работаете в субботу?", "И ещё вопрос"]:
            await visitor.send({"type": "message.send", "id": new_id(), "body": body})
            await visitor.recv_until(lambda f: f["type"] == "ack")
    finally:
        await visitor.close()
    mailbox.wait_for(lambda m: m.to(notify), "the offline notification")
    [note] = mailbox.to(notify)  # the conversation's first message only
    assert note["Subject"] == f"Новое сообщение в чате {site.name}, пока никого не было в сети"
    text, _ = parts(note)
    assert "Здравствуйте, вы работаете в субботу?" in text and "Посетитель" in text


async def test_only_another_sites_operator_online_is_nobody_online_for_this_site(
    flow_server: ServerProcess, mailbox: Mailbox, seq: int
) -> None:
    site_a = await make_site(flow_server, notify_email=f"site-a{seq}@example.com", language="en")
    site_b = await make_site(flow_server, notify_email=f"site-b{seq}@example.com", language="en")
    operator = await make_operator(flow_server, role="agent", site_keys=[site_b.key])
    http = await console_login(flow_server, operator.email, PASSWORD)
    console = await connect_operator(flow_server, http)  # on duty for site B only
    try:
        for site, online in ((site_b, True), (site_a, False)):
            session = await start_visitor(flow_server, site.key, site.allowed_origins[0])
            visitor, welcome = await connect_visitor(flow_server, site.key, site.allowed_origins[0], session["token"])
            try:
                if welcome["operators_online"] is not online:  # another test's console is still closing
                    await visitor.recv_until(lambda f: f == {"type": "presence", "operators_online": online})
                await visitor.send({"type": "message.send", "id": new_id(), "body": f"Hello, site {site.name}"})
                await visitor.recv_until(lambda f: f["type"] == "ack")
            finally:
                await visitor.close()
    finally:
        await console.close()
        await http.aclose()
    mailbox.wait_for(lambda m: m.to(f"site-a{seq}@example.com"), "site A's offline notification")
    # Site B had its operator: nothing was queued for it (queued with the message, if at all).
    async with opened(settings_for(flow_server)) as state:
        queued = await state.db.read(lambda conn: conn.execute(
            select(emails.c.to_address).where(emails.c.site_id == site_b.id)).scalars().all())
    assert queued == []


def test_reply_text_keeps_what_the_visitor_wrote_and_drops_the_quote() -> None:
    from server.services.email_inbound import reply_text

    def reply(body: str) -> EmailMessage:
        message = EmailMessage()
        message.set_content(body)
        return message

    assert reply_text(reply("Thanks!\n\nOn Mon, 30 Nov 2026, Olga wrote:\n> Yes we do\n")) == "Thanks!"
    assert reply_text(reply("Спасибо!\n\n30.11.2026, Ольга пишет:\n> Да\n")) == "Спасибо!"
    assert reply_text(reply("> quoted first\nMy answer below the quote\n-- \nMaria\n")) == "My answer below the quote"
    assert reply_text(reply("<script>x</script>\nline two")) == "<script>x</script>\nline two"


def test_reply_addresses_are_signed_and_forged_ones_refused() -> None:
    from server.security import Signer
    from server.services.email_flows import Mail

    signer = Signer("a-secret-key-for-this-test", visitor_token_days=1)
    try:
        mail = Mail(signer, REPLY_DOMAIN, None)
        address = mail.reply_address("0123456789abcdef0123456789abcdef")
        assert address is not None and mail.conversation_of(address) == "0123456789abcdef0123456789abcdef"
        assert mail.conversation_of(address.upper()) == "0123456789abcdef0123456789abcdef"  # case-folding servers
        assert mail.conversation_of(address.replace("0123", "0124", 1)) is None  # another conversation, same mac
        assert mail.conversation_of(address.replace(REPLY_DOMAIN, "evil.example.com")) is None
        assert Mail(signer, "", None).reply_address("x") is None
    finally:
        signer.close()
