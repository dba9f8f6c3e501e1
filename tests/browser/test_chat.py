"""The whole loop in Chromium: a visitor on the demo website, an operator in the console."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import (
    TIMEOUT,
    ConsoleErrors,
    console_thread,
    launcher,
    open_conversation,
    open_widget,
    operator_conversations,
    operator_login,
    operator_says,
    panel,
    visitor_says,
    visitor_thread,
)


def test_visitor_and_operator_chat_live(browser: Any, demo: Demo) -> None:
    operator_ctx = browser.new_context(locale="en-US")
    console = operator_login(operator_ctx, demo.server_url, demo.email, demo.password)

    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(demo.demo_url + "/")

    # The launcher: a real button with an accessible name, reachable by keyboard.
    button = launcher(page)
    expect(button).to_have_accessible_name("Open chat", timeout=TIMEOUT)
    focused = None
    for _ in range(12):  # header links, the language switcher, the page's button, then the launcher
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.tagName")
        if focused == "FRONTDESK-WIDGET":
            break
    assert focused in ("FRONTDESK-WIDGET", "BUTTON")

    frame = open_widget(page)
    expect(frame.locator("#status-text")).to_have_text("Online", timeout=TIMEOUT)
    console.wait_for_function(  # the inbox has loaded (a list, or the empty-list note)
        "() => { const e = document.getElementById('fd-list-status'); return e.hidden || e.textContent !== 'Loading…'; }",
        timeout=TIMEOUT,
    )
    title = re.match(r"\((\d+)\)", console.title())
    unread_before = int(title.group(1)) if title else 0
    visitor_says(frame, "Hello! Do you deliver to Almaty?")
    mine = frame.locator("#thread li.msg.me").last
    expect(mine.locator(".bubble")).to_have_text("Hello! Do you deliver to Almaty?")
    expect(mine.locator(".meta")).to_contain_text("Sent", timeout=TIMEOUT)

    # The inbox shows the new conversation live, with unread count and preview.
    item = console.locator("#fd-conv-list button.fd-conv-item", has_text="Do you deliver to Almaty?")
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(item.locator(".fd-badge")).to_contain_text("1")
    # The tab title counts all unread messages (other tests may have left some).
    expect(console).to_have_title(f"({unread_before + 1}) Inbox — Frontdesk", timeout=TIMEOUT)
    open_conversation(console, "Do you deliver to Almaty?")
    expect(console_thread(console)).to_have_text(["Hello! Do you deliver to Almaty?"], timeout=TIMEOUT)
    expect(item.locator(".fd-badge")).to_have_count(0, timeout=TIMEOUT)

    # Typing, both ways.
    frame.locator("#input").press_sequentially("Also", delay=30)
    expect(console.locator("#fd-typing")).to_be_visible(timeout=TIMEOUT)
    console.locator("#fd-reply").press_sequentially("Yes", delay=30)
    expect(frame.locator("#typing")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#typing")).to_have_text("Operator is typing…")

    operator_says(console, "Yes, within three days.")
    expect(visitor_thread(frame).last).to_have_text("Yes, within three days.", timeout=TIMEOUT)
    expect(frame.locator("#thread li.msg.op .who").last).to_have_text("Demo Operator")
    expect(console_thread(console)).to_have_text(
        ["Hello! Do you deliver to Almaty?", "Yes, within three days."], timeout=TIMEOUT
    )
    screenshot(page, "chat-visitor")
    screenshot(console, "chat-console")

    assert errors.errors == [] and errors.dialogs == []
    visitor_ctx.close()
    operator_ctx.close()


def test_history_survives_reload_navigation_and_coming_back(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    frame = open_widget(page)
    for text in ("first question", "second question"):
        visitor_says(frame, text)
        expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    def thread_after(url: str) -> None:
        page.goto(url)
        f = open_widget(page)
        expect(f.locator("#thread li.msg.me .bubble")).to_have_text(
            ["first question", "second question"], timeout=TIMEOUT
        )

    page.reload()
    thread_after(demo.demo_url + "/")
    thread_after(demo.demo_url + "/pricing.html")  # another page of the site
    page.close()
    page = ctx.new_page()  # the tab closed; the visitor comes back later
    thread_after(demo.demo_url + "/contact.html")
    ctx.close()


def test_visitor_text_is_shown_as_text_everywhere(browser: Any, demo: Demo) -> None:
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    operator_ctx = browser.new_context(locale="en-US")
    console = operator_login(operator_ctx, demo.server_url, demo.email, demo.password)
    console_errors = ConsoleErrors(console)

    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(demo.demo_url + "/")
    page.evaluate(
        "name => { window.Frontdesk('identify', {name: name}); }", payload
    )
    frame = open_widget(page)
    visitor_says(frame, payload)
    expect(frame.locator("#thread li.msg.me .bubble").last).to_have_text(payload, timeout=TIMEOUT)

    item = console.locator("#fd-conv-list button.fd-conv-item", has_text=payload)
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(item.locator(".fd-conv-name")).to_have_text(payload, timeout=TIMEOUT)
    item.click()
    expect(console_thread(console).last).to_have_text(payload, timeout=TIMEOUT)
    expect(console.locator("#fd-d-name")).to_have_text(payload, timeout=TIMEOUT)
    operator_says(console, "<b>bold?</b><img src=y onerror=alert(3)>")
    expect(visitor_thread(frame).last).to_have_text("<b>bold?</b><img src=y onerror=alert(3)>", timeout=TIMEOUT)
    assert console.locator("#fd-thread img").count() == 0
    assert frame.locator("#thread img, #thread b").count() == 0
    screenshot(console, "xss-console")
    assert errors.dialogs == [] and console_errors.dialogs == []
    ctx.close()
    operator_ctx.close()


def test_js_api_drives_the_widget(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    page.evaluate("window.got = []; Frontdesk('on', 'message', function (e) { window.got.push(e.message.body); })")
    page.evaluate("Frontdesk('open')")
    frame = panel(page)
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    expect(launcher(page)).to_have_accessible_name("Close chat")
    visitor_says(frame, "via the API")
    page.wait_for_function("window.got.indexOf('via the API') >= 0", timeout=TIMEOUT)
    page.evaluate("Frontdesk('close')")
    expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)
    ctx.close()


def test_console_shows_the_sites_snippet(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    console.get_by_role("link", name="Sites").click()
    snippet = f'<script async src="{demo.server_url}/embed.js" data-site-key="{demo.site_key}"></script>'
    expect(console.locator("pre code").first).to_have_text(snippet, timeout=TIMEOUT)
    ctx.close()


def test_widget_fills_a_phone_screen(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US", viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    frame = open_widget(page)
    box = page.locator("frontdesk-widget iframe").bounding_box()
    assert box is not None and box["width"] >= 355 and box["height"] >= 600, box
    visitor_says(frame, "from my phone")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    screenshot(page, "phone-360")
    ctx.close()


def test_a_message_typed_while_the_panel_connects_is_sent(browser: Any, demo: Demo) -> None:
    """The visitor types before the panel knows them (start-up held for 3 s): they see
    "Connecting…", their message waits in the thread as "Sending…" and goes when the socket is up."""
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    held: list[Any] = []
    page.route("**/api/widget/v1/sites/*/visitors", lambda route: held.append(route))  # let through below
    page.goto(demo.demo_url + "/")
    started = time.monotonic()
    frame = open_widget(page)
    expect(frame.locator("#status-text")).to_have_text("Connecting…", timeout=TIMEOUT)
    expect(frame.locator(".head [role=status]")).to_have_text("Connecting…")
    visitor_says(frame, "typed while connecting")
    mine = frame.locator("#thread li.msg.me").last
    expect(mine.locator(".bubble")).to_have_text("typed while connecting", timeout=TIMEOUT)
    expect(mine.locator(".meta")).to_contain_text("Sending…")
    expect(frame.locator("#input")).to_have_value("")
    screenshot(page, "widget-connecting")
    page.wait_for_timeout(max(0, 3000 - (time.monotonic() - started) * 1000))
    assert held, "the panel's start-up call was not intercepted"
    for route in held:
        route.continue_()
    page.unroute("**/api/widget/v1/sites/*/visitors")
    released = time.monotonic()
    expect(mine.locator(".meta")).to_contain_text("Sent", timeout=TIMEOUT)
    print(f"sent {time.monotonic() - released:.2f} s after the start-up call was let through")
    expect(frame.locator("#status-text")).not_to_have_text("Connecting…")
    expect(frame.locator("#thread li.msg.me")).to_have_count(1)  # sent once, shown once

    previews = [c["last_message_preview"] for c in operator_conversations(demo.server_url, demo.email, demo.password)]
    assert "typed while connecting" in previews
    ctx.close()
