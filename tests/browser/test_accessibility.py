"""axe-core finds no accessibility violations in what visitors and operators use, and an
operator can do everything in the console with the keyboard alone."""

from __future__ import annotations

import re
import uuid
from typing import Any, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import (
    TIMEOUT,
    open_conversation,
    open_widget,
    operator_login,
    visitor_says,
    visitor_thread,
)

SIZES = {"phone": {"width": 360, "height": 640}, "desktop": {"width": 1280, "height": 800}}


def _violations(page: Any) -> list[str]:
    result = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
    ]


def test_widget_panel_is_accessible(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="ru-RU")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    frame = open_widget(page)
    visitor_says(frame, "Здравствуйте")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Отправлено", timeout=TIMEOUT)
    panel = next(f for f in page.frames if "/widget/panel.html" in f.url)
    panel_page = ctx.new_page()
    panel_page.goto(panel.url)  # the panel document on its own, as axe checks one document
    expect(panel_page.locator("#input")).to_be_visible(timeout=TIMEOUT)
    assert _violations(panel_page) == []
    ctx.close()


class Visitor:
    """A visitor on the demo site with a conversation the console can open."""

    def __init__(self, browser: Any, demo: Demo) -> None:
        self.ctx = browser.new_context(locale="en-US")
        self.page = self.ctx.new_page()
        self.page.goto(demo.demo_url + "/")
        self.frame = open_widget(self.page)
        self.first = "accessibility check " + uuid.uuid4().hex[:8]
        self.name = "Taras " + uuid.uuid4().hex[:4]  # finds this conversation whatever its last message
        self.says(self.first)

    def says(self, text: str) -> None:
        visitor_says(self.frame, text)
        # "Seen" at once when the console has the conversation open (a read receipt).
        expect(self.frame.locator("#thread li.msg.me .meta").last).to_contain_text(re.compile("Sent|Seen"), timeout=TIMEOUT)


@pytest.fixture(scope="module")
def visitor(browser: Any, demo: Demo) -> Iterator[Visitor]:
    v = Visitor(browser, demo)
    v.page.evaluate(
        "name => window.Frontdesk('identify', {name: name, email: 'taras@example.com', phone: '+380441234567'})", v.name
    )
    yield v
    v.ctx.close()


@pytest.mark.parametrize("size", SIZES)
def test_console_pages_are_accessible(browser: Any, demo: Demo, visitor: Visitor, size: str) -> None:
    ctx = browser.new_context(locale="en-US", viewport=SIZES[size])
    page = ctx.new_page()
    page.goto(demo.server_url + "/console/login")
    assert _violations(page) == [], "login"
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    expect(console.locator("#fd-conv-list .fd-conv-item", has_text=visitor.name)).to_be_visible(timeout=TIMEOUT)
    assert _violations(console) == [], "inbox"
    open_conversation(console, visitor.name)
    expect(console.locator("#fd-d-phone a")).to_have_text("+380 44 123 4567", timeout=TIMEOUT)
    expect(console.locator("#fd-thread")).not_to_have_attribute("aria-busy", "true", timeout=TIMEOUT)
    assert _violations(console) == [], "inbox with a conversation open"
    screenshot(console, f"console-a11y-{size}")
    console.goto(demo.server_url + "/console/sites")
    assert _violations(console) == [], "sites"
    ctx.close()


def _focused(page: Page) -> str:
    """What has focus, and whether a person can see it (a real outline, :focus-visible)."""
    return page.evaluate(
        """() => {
          const e = document.activeElement;
          if (!e || e === document.body) return 'nothing';
          const s = getComputedStyle(e);
          const seen = e.matches(':focus-visible') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
          const name = e.id || e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40);
          return (seen ? '' : 'INVISIBLE ') + e.tagName.toLowerCase() + ':' + name;
        }"""
    )


def _tab_to(page: Page, target: str, *, back: bool = False, limit: int = 300) -> list[str]:
    """Presses Tab (or Shift+Tab) until `target` has focus; every stop must show focus."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        stops.append(_focused(page))
        if page.evaluate("t => document.activeElement && document.activeElement.matches(t)", target):
            break
    else:
        raise AssertionError(f"{target} never got focus: {stops[-10:]}")
    assert [s for s in stops if s.startswith("INVISIBLE")] == [], stops
    return stops


def _arrow_to(page: Page, text: str, limit: int = 200) -> None:
    for _ in range(limit):
        if text in page.evaluate("() => document.activeElement.textContent"):
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no conversation with {text!r} in the list")


def test_answering_in_the_console_with_the_keyboard_alone(browser: Any, demo: Demo, visitor: Visitor) -> None:
    ctx = browser.new_context(locale="en-US", viewport=SIZES["desktop"])
    page = ctx.new_page()
    page.goto(demo.server_url + "/console/login")
    expect(page.locator("#fd-login-email")).to_be_focused()  # the form is ready to type into
    page.keyboard.type(demo.email)
    _tab_to(page, "#fd-login-password")
    page.keyboard.type(demo.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(demo.server_url + "/console/", timeout=TIMEOUT)
    expect(page.locator("#fd-conn")).to_have_attribute("data-state", "connected", timeout=TIMEOUT)

    # Skip link, then past the filters (one stop for the toolbar, one for the site) into
    # the list; arrows move between conversations, Enter opens one.
    _tab_to(page, ".fd-skip", limit=1)
    page.keyboard.press("Enter")
    _tab_to(page, ".fd-conv-item", limit=3)
    _arrow_to(page, visitor.name)
    assert not _focused(page).startswith("INVISIBLE")
    page.keyboard.press("Enter")
    expect(page.locator("#fd-thread .fd-msg-body").first).to_have_text(visitor.first, timeout=TIMEOUT)
    expect(page.locator("#fd-reply")).to_be_focused()
    assert not _focused(page).startswith("INVISIBLE")

    # Reply: Enter sends; the visitor gets it.
    reply = "Hello Taras, how can I help?"
    page.keyboard.type(reply)
    page.keyboard.press("Enter")
    expect(visitor_thread(visitor.frame).last).to_have_text(reply, timeout=TIMEOUT)
    expect(page.locator("#fd-reply")).to_have_value("")

    # The visitor's answer is announced politely, without moving focus.
    answer = "I would like a callback " + uuid.uuid4().hex[:6]
    visitor.says(answer)
    announce = page.locator("#fd-announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_have_text(f"New message from {visitor.name}: {answer}", timeout=TIMEOUT)
    expect(page.locator("#fd-reply")).to_be_focused()

    # Everything on the way back to Log out shows where focus is; Enter logs out.
    _tab_to(page, ".fd-logout button", back=True)
    page.keyboard.press("Enter")
    expect(page).to_have_url(demo.server_url + "/console/login", timeout=TIMEOUT)
    ctx.close()


def test_switching_views_on_a_phone_with_the_keyboard(browser: Any, demo: Demo, visitor: Visitor) -> None:
    ctx = browser.new_context(locale="en-US", viewport=SIZES["phone"])
    page = operator_login(ctx, demo.server_url, demo.email, demo.password)
    item = page.locator("#fd-conv-list .fd-conv-item", has_text=visitor.name)
    expect(item).to_be_visible(timeout=TIMEOUT)
    _tab_to(page, ".fd-conv-item")
    _arrow_to(page, visitor.name)
    page.keyboard.press("Enter")
    expect(page.locator("#fd-reply")).to_be_focused(timeout=TIMEOUT)
    expect(page.locator("#fd-conv-list")).to_be_hidden()

    # Back is a button on the way up from the reply box.
    stops = _tab_to(page, "#fd-back", back=True, limit=20)
    print("from the reply box back to Back:", stops)
    screenshot(page, "console-phone-keyboard-back")
    page.keyboard.press("Enter")
    expect(page.locator("#fd-conv-list")).to_be_visible()
    expect(item).to_be_focused()  # focus returns to where the operator left the list

    # Escape leaves a conversation too.
    page.keyboard.press("Enter")
    expect(page.locator("#fd-reply")).to_be_focused(timeout=TIMEOUT)
    page.keyboard.press("Escape")
    expect(page.locator("#fd-conv-list")).to_be_visible()
    expect(item).to_be_focused()
    ctx.close()
