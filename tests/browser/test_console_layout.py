"""The console on a phone and on a desktop: nothing runs off the side, Send is on screen,
and a visitor's phone number reads like a phone number."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import TIMEOUT, open_widget, operator_login, visitor_says

PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def long_preview(browser: Any, demo: Demo) -> Iterator[str]:
    """A conversation whose last message is one long word, from a visitor who gave a phone."""
    word = "Longword" + uuid.uuid4().hex + "x" * 300
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    frame = open_widget(page)
    visitor_says(frame, word)
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.evaluate("() => window.Frontdesk('identify', {name: 'Aigerim', phone: '+77011234567'})")
    yield word
    ctx.close()


def _fits(page: Page) -> None:
    width = page.viewport_size["width"]
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    print(f"viewport {width}px: document scrollWidth {scroll}px")
    assert scroll <= width, f"the page is {scroll}px wide in a {width}px viewport"


def _on_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (selector, box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (selector, box, size)


def _item(console: Page, text: str) -> Any:
    return console.locator("#fd-conv-list button.fd-conv-item", has_text=text[:40])


def test_console_fits_a_phone(browser: Any, demo: Demo, long_preview: str) -> None:
    ctx = browser.new_context(locale="en-US", **PHONE)
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    item = _item(console, long_preview)
    expect(item).to_be_visible(timeout=TIMEOUT)
    _fits(console)
    _on_screen(console, "#fd-conv-list button.fd-conv-item >> nth=0")
    # The long preview is cut with an ellipsis inside its row, not widening it.
    preview = item.locator(".fd-conv-preview")
    assert preview.evaluate("e => e.scrollWidth > e.clientWidth && getComputedStyle(e).textOverflow === 'ellipsis'")
    screenshot(console, "console-phone-list")

    item.tap()
    # One view at a time: the conversation replaces the list, with a way back.
    expect(console.locator("#fd-thread .fd-msg-body").first).to_have_text(long_preview, timeout=TIMEOUT)
    expect(console.locator("#fd-conv-list")).to_be_hidden()
    expect(console.locator("#fd-reply")).not_to_be_focused()  # no on-screen keyboard over the thread yet
    _fits(console)
    _on_screen(console, "#fd-send")
    _on_screen(console, "#fd-reply")
    back = console.get_by_role("button", name="Back to conversations")
    _on_screen(console, "#fd-back")
    screenshot(console, "console-phone-conversation")

    back.tap()
    expect(console.locator("#fd-conv-list")).to_be_visible()
    expect(console.locator("#fd-conv")).to_be_hidden()
    expect(item).to_be_focused()
    _fits(console)

    # The phone's own back gesture works the same way.
    item.tap()
    expect(console.locator("#fd-send")).to_be_visible(timeout=TIMEOUT)
    console.go_back()
    expect(console.locator("#fd-conv-list")).to_be_visible(timeout=TIMEOUT)
    expect(console.locator("#fd-conv")).to_be_hidden()

    # The other pages fit too: the snippet table scrolls inside its own box.
    console.goto(demo.server_url + "/console/sites")
    _fits(console)
    _on_screen(console, ".fd-logout button")
    screenshot(console, "console-phone-sites")
    ctx.close()


def test_login_fits_a_phone(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="ru-RU", **PHONE)
    page = ctx.new_page()
    page.goto(demo.server_url + "/console/login")
    _fits(page)
    _on_screen(page, "form.fd-login-form button[type=submit]")
    screenshot(page, "console-phone-login")
    ctx.close()


def test_console_fits_a_desktop(browser: Any, demo: Demo, long_preview: str) -> None:
    ctx = browser.new_context(locale="en-US", **DESKTOP)
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    item = _item(console, long_preview)
    expect(item).to_be_visible(timeout=TIMEOUT)
    item.click()
    expect(console.locator("#fd-thread .fd-msg-body").first).to_have_text(long_preview, timeout=TIMEOUT)
    # List and conversation side by side; the list keeps its width whatever the preview.
    expect(console.locator("#fd-conv-list")).to_be_visible()
    expect(console.get_by_role("button", name="Back to conversations")).to_be_hidden()
    list_box = console.locator(".fd-list-pane").bounding_box()
    assert list_box is not None and list_box["width"] <= 340, list_box
    _fits(console)
    _on_screen(console, "#fd-send")
    _on_screen(console, "#fd-details")
    screenshot(console, "console-desktop")
    ctx.close()


def test_phone_number_is_shown_in_international_format(browser: Any, demo: Demo, long_preview: str) -> None:
    ctx = browser.new_context(locale="en-US", **DESKTOP)
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    # Known when the console loads (the conversations API)...
    item = _item(console, long_preview)
    expect(item).to_contain_text("Aigerim", timeout=TIMEOUT)
    item.click()
    link = console.locator("#fd-d-phone a")
    expect(link).to_have_text("+7 701 123 45 67", timeout=TIMEOUT)
    expect(link).to_have_attribute("href", "tel:+77011234567")

    # ...and given while the console is open (a live event).
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    page.goto(demo.demo_url + "/")
    text = "call me " + uuid.uuid4().hex
    visitor_says(open_widget(page), text)
    expect(_item(console, text)).to_be_visible(timeout=TIMEOUT)
    _item(console, text).click()
    expect(console.locator("#fd-d-phone")).to_have_text("Not given", timeout=TIMEOUT)
    page.evaluate("() => window.Frontdesk('identify', {phone: '+380441234567'})")
    expect(link).to_have_text("+380 44 123 4567", timeout=TIMEOUT)
    expect(link).to_have_attribute("href", "tel:+380441234567")
    visitor_ctx.close()
    ctx.close()
