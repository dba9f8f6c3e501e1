"""The console notices that its session ended, says so in the operator's language, and
keeps the reply being written across logging in again."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, open_conversation, operator_login
from tests.clients import visitor_says


def test_console_says_the_session_ended_and_keeps_the_draft(browser: Any, demo: Demo) -> None:
    # A visitor writes first (by the widget's protocol; Playwright's loop owns this thread).
    server = SimpleNamespace(url=demo.server_url, ws_url=demo.server_url.replace("http://", "ws://"))
    with ThreadPoolExecutor(1) as thread:
        thread.submit(
            lambda: asyncio.run(visitor_says(server, demo.site_key, demo.demo_url, ["Can I pick up the order on Sunday?"]))  # type: ignore[arg-type]
        ).result()

    context = browser.new_context(locale="ru-RU")
    console = operator_login(context, demo.server_url, demo.email, demo.password)
    errors = ConsoleErrors(console)
    open_conversation(console, "Can I pick up the order on Sunday?")
    draft = "Да, в воскресенье мы открыты с 10 до"
    console.locator("#fd-reply").fill(draft)
    banner = console.locator("#fd-session-ended")
    expect(banner).to_be_hidden()

    # Logged out from another tab of the same browser: this tab's session is gone.
    other_tab = context.new_page()
    other_tab.goto(demo.server_url + "/console/")
    other_tab.locator("form.fd-logout button[type=submit]").click()
    expect(other_tab).to_have_url(demo.server_url + "/console/login", timeout=TIMEOUT)
    other_tab.close()

    expect(banner).to_be_visible(timeout=TIMEOUT)
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Сессия завершена")
    expect(console.locator("#fd-conn")).to_have_attribute("data-state", "expired")
    expect(console.locator("#fd-reply")).to_have_value(draft)  # nothing typed is lost
    screenshot(console, "console-session-ended")

    # A few more words after the message appeared, then log in again from the banner.
    console.locator("#fd-reply").press_sequentially(" 18.", delay=20)
    banner.get_by_role("link", name="Войти снова").click()
    expect(console).to_have_url(demo.server_url + "/console/login", timeout=TIMEOUT)
    console.locator("#fd-login-email").fill(demo.email)
    console.locator("#fd-login-password").fill(demo.password)
    console.locator("form.fd-login-form button[type=submit]").click()

    expect(console.locator("#fd-conn")).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    expect(console.locator("#fd-session-ended")).to_be_hidden()
    expect(console.locator("#fd-conv-title")).not_to_be_empty(timeout=TIMEOUT)  # the same conversation, open again
    expect(console.locator("#fd-thread .fd-msg-body")).to_have_text(["Can I pick up the order on Sunday?"], timeout=TIMEOUT)
    expect(console.locator("#fd-reply")).to_have_value(draft + " 18.")
    assert not errors.dialogs
    context.close()
