"""The contact form in a real Chromium: an offline visitor's typed chat text carried into
the form, the message sent, the operator's answer from the console arriving by email at a
real SMTP server (and in the widget's chat)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, new_demo, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, open_conversation, open_widget, operator_login, operator_says
from tests.browser.test_widget_accessibility import _panel_frame, _violations
from tests.mailbox import Mailbox, parts

NOTIFY = "desk@example.com"


@pytest.fixture(scope="module")
def mail_demo(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Demo]:
    """A demo of its own that sends email to the test's SMTP server."""
    saved = dict(os.environ)
    os.environ.update(mailbox.env())
    try:
        demo = new_demo(Path(tmp_path_factory.mktemp("contact-demo")))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def contact_host(mail_demo: Demo) -> Iterator[tuple[HostSite, str]]:
    host = HostSite(mail_demo.server_url).start()
    key = mail_demo.add_site(
        host.origin, "Aurora Coffee", "--contact", "--notify-email", NOTIFY,
        "--privacy-url", "https://shop.example.com/privacy",
    )
    yield host, key
    host.stop()


def test_an_offline_visitor_leaves_an_email_and_the_operators_answer_arrives_by_email(
    browser: object, mail_demo: Demo, contact_host: tuple[HostSite, str], mailbox: Mailbox
) -> None:
    host, key = contact_host
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host.origin}/plain.html?key={key}")
    frame = open_widget(page)

    # Nobody is online: the chat offers the form, and what the visitor typed goes with them.
    question = 'Do you roast decaf? <img src=x onerror=alert(1)>'
    frame.locator("#input").fill(question)
    offer = frame.locator("#notice button.offer")
    expect(offer).to_have_text("Leave your email", timeout=TIMEOUT)
    offer.click()
    form = frame.locator("#view-contact")
    expect(form).to_be_visible()
    expect(frame.locator("#contact-message")).to_have_value(question)
    expect(frame.get_by_role("link", name="Privacy policy")).to_have_attribute("href", "https://shop.example.com/privacy")

    # Sending without consent names the box; then a person's normal filling passes.
    frame.locator("#contact-name").fill("Maria")
    frame.locator("#contact-email").fill("maria@example.com")
    frame.get_by_role("button", name="Send message").click()
    expect(frame.locator("#contact-consent-error")).to_be_visible()
    assert _violations(_panel_frame(page)) == []  # the form, with an error shown, for keyboard and screen readers
    frame.get_by_label("I agree that my name, contact details and message are stored and used to answer me.").check()
    frame.get_by_label("Send me a copy by email").check()
    frame.get_by_role("button", name="Send message").click()
    # Sent within the 3 s minimum after the form appeared (a quick person, or text carried
    # over): the widget waits as long as the server says and sends again by itself.
    expect(frame.locator(".contact-done [role=status]")).to_contain_text("Thank you!", timeout=3 * TIMEOUT)
    screenshot(page, "contact-sent")

    mailbox.wait_for(lambda m: m.to(NOTIFY) and m.to("maria@example.com"), "the notification and the copy")
    [note] = mailbox.to(NOTIFY)
    assert note["Reply-To"] == "maria@example.com"
    text, html = parts(note)
    assert question in text and "<img" not in html

    # The operator answers from the console: the answer goes out by email...
    console = operator_login(context, mail_demo.server_url, mail_demo.email, mail_demo.password)
    open_conversation(console, "Do you roast decaf?")
    operator_says(console, "Yes — every day. <b>Come by!</b>")
    mailbox.wait_for(
        lambda m: any("Reply from" in (x["Subject"] or "") for x in m.to("maria@example.com")), "the answer by email"
    )
    [answer] = [x for x in mailbox.to("maria@example.com") if "Reply from" in x["Subject"]]
    text, html = parts(answer)
    assert "Yes — every day. <b>Come by!</b>" in text and "&lt;b&gt;Come by!&lt;/b&gt;" in html

    # ...and shows in the widget's chat when the visitor comes back to it.
    frame.get_by_role("tab", name="Chat").click()
    expect(frame.locator("#thread")).to_contain_text("Yes — every day. <b>Come by!</b>", timeout=TIMEOUT)
    # (A refused "too fast" attempt is logged by the browser as a failed resource: not an error of ours.)
    assert errors.dialogs == [] and not [e for e in errors.errors if "Failed to load resource" not in e]
    context.close()
