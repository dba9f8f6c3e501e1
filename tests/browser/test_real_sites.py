"""The widget on real websites (issue 19): no work for a page view alone, room beside the
page's own corner buttons, hide and show."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, launcher, open_widget, panel, visitor_says
from tests.browser.test_widget_accessibility import Operator

DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def idle_key(demo: Demo, host_site: HostSite) -> str:
    return demo.add_site(host_site.origin, "Idle pages")


def _visitors(demo: Demo, key: str) -> int:
    """Visitor rows of the site, read from the demo's SQLite database."""
    with sqlite3.connect(demo.data_dir / "frontdesk.db") as db:
        row = db.execute(
            "SELECT count(*) FROM visitors JOIN sites ON sites.id = visitors.site_id WHERE sites.key = ?", (key,)
        ).fetchone()
    return int(row[0])


def _panel_frame(page: Any) -> Any:
    for frame in page.frames:
        if "/widget/panel.html" in frame.url:
            return frame
    raise AssertionError("the panel's iframe is not on the page")


def _idle(page: Any, name: str) -> None:
    """The page, its loader and the panel's iframe have loaded and gone quiet."""
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    expect(panel(page).locator("#site-name")).to_have_text(name, timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # anything the panel would start after its idle callback


def test_a_page_view_alone_registers_stores_and_connects_nothing(
    browser: Any, demo: Demo, host_site: HostSite, idle_key: str
) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    before = _visitors(demo, idle_key)

    page.goto(f"{host_site.origin}/plain.html?key={idle_key}")
    _idle(page, "Idle pages")
    assert sockets == []
    assert _visitors(demo, idle_key) == before
    assert page.evaluate("localStorage.length") == 0
    assert _panel_frame(page).evaluate("localStorage.length") == 0
    # A second page view of the same visitor: still nothing.
    page.reload()
    _idle(page, "Idle pages")
    assert sockets == [] and _visitors(demo, idle_key) == before

    # Opening the chat is the visitor's own act: a message typed at once is sent.
    frame = open_widget(page)
    visitor_says(frame, "typed right after opening")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    assert len(sockets) == 1, sockets
    assert _visitors(demo, idle_key) == before + 1
    assert _panel_frame(page).evaluate("localStorage.length") > 0  # the token, for the next visit
    assert errors.errors == []
    ctx.close()


def test_a_returning_visitor_gets_the_badge_and_live_replies_without_opening(
    browser: Any, demo: Demo, host_site: HostSite, idle_key: str
) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={idle_key}")
    page.evaluate("window.conv = []; Frontdesk('on', 'message', function (e) { window.conv.push(e.conversation_id); })")
    frame = open_widget(page)
    visitor_says(frame, "a question " + uuid.uuid4().hex[:6])
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.wait_for_function("window.conv.length > 0", timeout=TIMEOUT)
    conversation_id = page.evaluate("window.conv[0]")

    # The next page view: the stored token connects without the panel being opened.
    with page.expect_websocket(timeout=TIMEOUT):
        page.reload()
    expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)
    operator = Operator(demo)
    try:
        expect(panel(page).locator("#status-text")).not_to_have_text("Connecting…", timeout=TIMEOUT)
        operator.says(conversation_id, "Here is your answer.")
        expect(launcher(page)).to_have_accessible_name("Open chat, 1 unread message", timeout=TIMEOUT)
        expect(page.locator("frontdesk-widget button span")).to_have_text("1")
        frame = open_widget(page)
        expect(frame.locator("#thread li.msg .bubble").last).to_have_text("Here is your answer.")
    finally:
        operator.close()
    ctx.close()


def test_a_site_can_show_every_visitor_live(browser: Any, demo: Demo, host_site: HostSite) -> None:
    key = demo.add_site(host_site.origin, "Live visitors", "--live-visitors")
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    # Nobody touches the widget: the panel registers and connects on its own (at idle).
    deadline = time.monotonic() + TIMEOUT / 1000
    while not (sockets and _visitors(demo, key)) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    expect(panel(page).locator("#status-text")).not_to_have_text("Connecting…", timeout=TIMEOUT)
    assert len(sockets) == 1 and _visitors(demo, key) == 1
    ctx.close()


def _centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _hit(page: Any, x: float, y: float) -> str:
    """What a click at (x, y) lands on: the page's button, the launcher (the widget's host
    element, as the page sees into a shadow root) or something else."""
    return page.evaluate(
        "([x, y]) => { var e = document.elementFromPoint(x, y); return e ? (e.id || e.localName) : ''; }", [x, y]
    )


def _launcher_clear_of_the_button(page: Any) -> None:
    button = page.locator("#to-top").bounding_box()
    box = launcher(page).bounding_box()
    assert button is not None and box is not None
    assert _hit(page, *_centre(button)) == "to-top", "the launcher covers the page's own button"
    # The launcher is whole on screen and takes clicks at each corner of its inner square.
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], box
    assert box["y"] + box["height"] <= DESKTOP["height"], box
    for dx in (0.3, 0.7):
        for dy in (0.3, 0.7):
            assert _hit(page, box["x"] + box["width"] * dx, box["y"] + box["height"] * dy) == "frontdesk-widget"
    page.locator("#to-top").click()
    assert page.evaluate("window.toTopClicks") == 1


def test_without_offsets_the_launcher_covers_a_corner_button(
    browser: Any, demo: Demo, host_site: HostSite, idle_key: str
) -> None:
    """The problem the offsets solve, as the real admin template showed it."""
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/back-to-top.html?key={idle_key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    button = page.locator("#to-top").bounding_box()
    assert button is not None
    assert _hit(page, *_centre(button)) == "frontdesk-widget"
    ctx.close()


def test_offsets_from_the_site_settings_and_the_script_tag(browser: Any, demo: Demo, host_site: HostSite) -> None:
    # The site's settings move it up; a tag with its own offsets wins.
    key = demo.add_site(host_site.origin, "Offset site", "--offset-x", "20", "--offset-y", "76")
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host_site.origin}/back-to-top.html?key={key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    box = launcher(page).bounding_box()
    assert box is not None and (DESKTOP["width"] - box["x"] - box["width"], DESKTOP["height"] - box["y"] - box["height"]) == (20, 76)
    _launcher_clear_of_the_button(page)
    # The open panel sits above the launcher, clear of it.
    frame = open_widget(page)
    panel_box = page.locator("frontdesk-widget iframe").bounding_box()
    assert panel_box is not None and panel_box["y"] + panel_box["height"] <= box["y"], (panel_box, box)
    assert DESKTOP["width"] - panel_box["x"] - panel_box["width"] == 20, panel_box
    visitor_says(frame, "offset launcher")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    screenshot(page, "launcher-offsets-open")

    page.goto(f"{host_site.origin}/back-to-top-offsets.html?key={key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    box = launcher(page).bounding_box()
    assert box is not None and (DESKTOP["width"] - box["x"] - box["width"], DESKTOP["height"] - box["y"] - box["height"]) == (24, 84)
    _launcher_clear_of_the_button(page)
    screenshot(page, "launcher-offsets-tag")
    assert errors.errors == []
    ctx.close()


def test_the_page_hides_and_shows_the_launcher(browser: Any, demo: Demo, host_site: HostSite, idle_key: str) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/back-to-top.html?key={idle_key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    page.evaluate("Frontdesk('hide')")
    expect(launcher(page)).to_be_hidden()
    button = page.locator("#to-top").bounding_box()
    assert button is not None and _hit(page, *_centre(button)) == "to-top"
    page.evaluate("Frontdesk('show')")
    expect(launcher(page)).to_be_visible()
    launcher(page).click()
    expect(panel(page).locator("#input")).to_be_visible(timeout=TIMEOUT)
    ctx.close()


def test_hide_called_before_the_loader_keeps_the_launcher_hidden(
    browser: Any, demo: Demo, host_site: HostSite, idle_key: str
) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.add_init_script(
        "window.Frontdesk = function () { (Frontdesk.q = Frontdesk.q || []).push(arguments); }; Frontdesk('hide');"
    )
    page.goto(f"{host_site.origin}/back-to-top.html?key={idle_key}")
    page.wait_for_function("typeof Frontdesk === 'function' && Frontdesk.fd === 1", timeout=TIMEOUT)
    expect(page.locator("frontdesk-widget")).to_be_attached(timeout=TIMEOUT)
    expect(launcher(page)).to_be_hidden()
    page.evaluate("Frontdesk('open')")  # the page's own button may still open the chat
    expect(panel(page).locator("#input")).to_be_visible(timeout=TIMEOUT)
    ctx.close()


def test_on_a_right_to_left_page_the_launcher_defaults_to_the_left(
    browser: Any, demo: Demo, host_site: HostSite, idle_key: str
) -> None:
    chosen = demo.add_site(host_site.origin, "Chose the right", "--position", "right")
    ctx = browser.new_context(locale="ar", viewport=DESKTOP)
    page = ctx.new_page()
    for key, where in [(idle_key, "left"), (chosen, "right")]:
        page.goto(f"{host_site.origin}/rtl.html?key={key}")
        expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
        box = launcher(page).bounding_box()
        assert box is not None
        assert (box["x"] == 16) if where == "left" else (box["x"] + box["width"] == DESKTOP["width"] - 16), (key, box)
        frame = open_widget(page)
        panel_box = page.locator("frontdesk-widget iframe").bounding_box()
        assert panel_box is not None and (panel_box["x"] == 16) == (where == "left"), panel_box
        expect(frame.locator("#input")).to_be_visible()
    screenshot(page, "launcher-rtl-chosen-right")
    # A left-to-right page keeps the default corner.
    page.goto(f"{host_site.origin}/plain.html?key={idle_key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    box = launcher(page).bounding_box()
    assert box is not None and box["x"] + box["width"] == DESKTOP["width"] - 16, box
    ctx.close()


def _icon(page: Any) -> str:
    return page.locator("frontdesk-widget button svg path").get_attribute("d") or ""


def test_the_open_panels_launcher_shows_a_close_mark(browser: Any, demo: Demo, host_site: HostSite, idle_key: str) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={idle_key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    bubble = _icon(page)
    open_widget(page)
    expect(launcher(page)).to_have_accessible_name("Close chat")
    page.wait_for_function(
        "b => document.querySelector('frontdesk-widget').shadowRoot.querySelector('path').getAttribute('d') !== b",
        arg=bubble, timeout=TIMEOUT,
    )
    closing = _icon(page)
    screenshot(page, "launcher-close-mark")
    launcher(page).click()
    expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)
    page.wait_for_function(
        "b => document.querySelector('frontdesk-widget').shadowRoot.querySelector('path').getAttribute('d') === b",
        arg=bubble, timeout=TIMEOUT,
    )
    assert closing != bubble
    ctx.close()
