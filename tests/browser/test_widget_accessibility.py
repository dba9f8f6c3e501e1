"""The visitor widget for everyone (WCAG 2.2 AA): axe finds nothing in any language or
size, a keyboard alone runs the chat, screen readers hear new messages and the launcher's
unread count, and on a 360×640 phone the panel fills the screen, keeps its input above the
on-screen keyboard and holds the page behind still."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Frame, Page, expect
from websockets.sync.client import connect

from server.locales import LANGUAGES
from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import TIMEOUT, launcher, open_widget, panel, visitor_says

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}


def _texts(lang: str) -> dict[str, Any]:
    return json.loads((ROOT / "widget" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _violations(target: Page | Frame) -> list[str]:
    result = Axe().run(target)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
    ]


def _panel_frame(page: Page) -> Frame:
    return next(f for f in page.frames if "/widget/panel.html" in f.url)


def _sent(frame: Any, lang: str = "en") -> None:
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text(_texts(lang)["sent"], timeout=TIMEOUT)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_widget_passes_axe_closed_and_open_at_both_sizes(browser: Any, demo: Demo, lang: str) -> None:
    """One page per language: the launcher on the host page, then the open panel (as it is
    framed there), each at 1280 px and 360 px."""
    texts = _texts(lang)
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{demo.demo_url}/?lang={lang}")
    expect(launcher(page)).to_have_accessible_name(texts["launcher_open"], timeout=TIMEOUT)
    page.wait_for_load_state("load")
    found = {"closed 1280": _violations(page)}
    page.set_viewport_size(PHONE)
    found["closed 360"] = _violations(page)

    frame = open_widget(page)
    expect(frame.locator("#status-text")).not_to_have_text(texts["connecting"], timeout=TIMEOUT)
    visitor_says(frame, "Accessibility " + lang)
    _sent(frame, lang)
    found["open 360"] = _violations(_panel_frame(page))
    page.set_viewport_size(DESKTOP)
    found["open 1280"] = _violations(_panel_frame(page))
    found["host with the panel open 1280"] = _violations(page)
    assert {k: v for k, v in found.items() if v} == {}
    ctx.close()


def test_launcher_counts_unread_messages_in_each_languages_plural_forms(browser: Any) -> None:
    """The panel names the launcher with widget/plural.js, as it does in the widget."""
    page = browser.new_page()
    page.set_content("<!doctype html><title>plural</title>")
    page.add_script_tag(path=str(ROOT / "widget" / "plural.js"))
    said = {
        lang: [page.evaluate("([e, l, n]) => fdPlural.text(e, l, {count: n})", [_texts(lang)["launcher_unread"], lang, n])
               for n in (1, 2, 5, 11, 21, 22, 25)]
        for lang in LANGUAGES
    }
    assert said["en"][:2] == ["Open chat, 1 unread message", "Open chat, 2 unread messages"]
    assert said["ru"] == [
        "Открыть чат, 1 непрочитанное сообщение", "Открыть чат, 2 непрочитанных сообщения",
        "Открыть чат, 5 непрочитанных сообщений", "Открыть чат, 11 непрочитанных сообщений",
        "Открыть чат, 21 непрочитанное сообщение", "Открыть чат, 22 непрочитанных сообщения",
        "Открыть чат, 25 непрочитанных сообщений",
    ]
    assert said["uk"] == [
        "Відкрити чат, 1 непрочитане повідомлення", "Відкрити чат, 2 непрочитані повідомлення",
        "Відкрити чат, 5 непрочитаних повідомлень", "Відкрити чат, 11 непрочитаних повідомлень",
        "Відкрити чат, 21 непрочитане повідомлення", "Відкрити чат, 22 непрочитані повідомлення",
        "Відкрити чат, 25 непрочитаних повідомлень",
    ]
    assert said["kk"][0] == "Чатты ашу, 1 оқылмаған хабарлама" and said["kk"][6] == "Чатты ашу, 25 оқылмаған хабарлама"
    page.close()


# ---- keyboard only


def _launcher_focus(page: Page) -> str:
    """Whether the launcher has focus, and whether a person can see it (a real outline)."""
    return page.evaluate(
        """() => {
          const host = document.querySelector('frontdesk-widget');
          const e = host && host.shadowRoot && host.shadowRoot.activeElement;
          if (document.activeElement !== host || !e) return 'elsewhere';
          if (e.tagName !== 'BUTTON') return e.tagName.toLowerCase();
          const s = getComputedStyle(e);
          return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? 'launcher' : 'INVISIBLE launcher';
        }"""
    )


def _panel_focus(frame: Frame) -> str:
    """What has focus inside the panel, and whether a person can see it."""
    return frame.evaluate(
        """() => {
          const e = document.activeElement;
          if (!document.hasFocus() || !e || e === document.body) return 'nothing';
          const s = getComputedStyle(e);
          const seen = e.matches(':focus-visible') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
          return (seen ? '' : 'INVISIBLE ') + '#' + e.id;
        }"""
    )


class Operator:
    """An operator answering through the console's socket (what the console page sends)."""

    def __init__(self, demo: Demo) -> None:
        self.http = httpx.Client(base_url=demo.server_url, timeout=TIMEOUT / 1000)
        form = self.http.get("/console/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf, "login form has no CSRF token"
        login = self.http.post(
            "/console/login", data={"email": demo.email, "password": demo.password, "csrf_token": csrf.group(1)}
        )
        assert login.status_code == 303, login.text
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        ws_url = demo.server_url.replace("http://", "ws://") + "/ws/console"
        self.connection = connect(ws_url, origin=demo.server_url, additional_headers={"Cookie": cookie}, open_timeout=10)
        self.ws = self.connection.__enter__()
        self.ws.send(json.dumps({"type": "hello", "after_event": None}))
        assert json.loads(self.ws.recv(timeout=10))["type"] == "welcome"

    def says(self, conversation_id: str, body: str) -> None:
        client_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"type": "message.send", "conversation_id": conversation_id, "id": client_id, "body": body}))
        for _ in range(1000):  # every event of the demo passes by; ours is acked among them
            frame = json.loads(self.ws.recv(timeout=10))
            if frame.get("type") == "ack" and frame.get("id") == client_id:
                return
            assert not (frame.get("type") == "error" and frame.get("id") == client_id), frame
        raise AssertionError("no ack")

    def close(self) -> None:
        self.connection.__exit__(None, None, None)
        self.http.close()


def test_keyboard_only_chat_in_the_widget(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US", viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    page.evaluate("window.conv = []; Frontdesk('on', 'message', function (e) { window.conv.push(e.conversation_id); })")
    expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)

    # Tab reaches the launcher (past the page's own links and button), with a visible ring.
    for _ in range(20):
        page.keyboard.press("Tab")
        if _launcher_focus(page) != "elsewhere":
            break
    assert _launcher_focus(page) == "launcher"
    page.wait_for_load_state("load")
    page.keyboard.press("Enter")
    frame = panel(page)
    expect(frame.locator("#input")).to_be_focused(timeout=TIMEOUT)
    expect(launcher(page)).to_have_accessible_name("Close chat")
    panel_frame = _panel_frame(page)

    # Type, Enter sends.
    first = "keyboard only " + uuid.uuid4().hex[:6]
    page.keyboard.type(first)
    page.keyboard.press("Enter")
    expect(frame.locator("#thread li.msg.me .bubble").last).to_have_text(first, timeout=TIMEOUT)
    _sent(frame)
    page.wait_for_function("window.conv.length > 0", timeout=TIMEOUT)
    conversation_id = page.evaluate("window.conv[0]")

    # The operator answers: said once by the polite live region, focus stays in the input.
    operator = Operator(demo)
    try:
        operator.says(conversation_id, "Hello! How can I help?")
        announce = frame.locator("#announce")
        expect(announce).to_have_text("New message from Demo Operator: Hello! How can I help?", timeout=TIMEOUT)
        expect(announce).to_have_attribute("aria-live", "polite")
        expect(frame.locator("#thread")).not_to_have_attribute("aria-live", re.compile("polite|assertive"))
        expect(frame.locator("#input")).to_be_focused()

        # Tab cycles inside the panel: from the input round to it again, never out to the page.
        stops = []
        for _ in range(8):
            page.keyboard.press("Tab")
            where = _launcher_focus(page)  # the iframe, while focus is in the panel
            stops.append(_panel_focus(panel_frame) if where == "iframe" else "OUT " + where)
            if stops[-1] == "#input":
                break
        assert stops[-1] == "#input" and all(s.startswith("#") for s in stops), stops
        print("Tab stops in the panel:", stops)
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")
        back = _panel_focus(panel_frame)
        assert back == stops[-4], (back, stops)  # Shift+Tab walks the same ring backwards
        screenshot(page, "widget-keyboard-focus-1280")

        # Esc closes and gives the launcher its focus back.
        page.keyboard.press("Escape")
        expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)
        assert _launcher_focus(page) == "launcher"

        # Replies while closed: the launcher's name and its badge count them.
        operator.says(conversation_id, "Are you still there?")
        expect(launcher(page)).to_have_accessible_name("Open chat, 1 unread message", timeout=TIMEOUT)
        operator.says(conversation_id, "We deliver tomorrow.")
        expect(launcher(page)).to_have_accessible_name("Open chat, 2 unread messages", timeout=TIMEOUT)
        badge = page.locator("frontdesk-widget button span")
        expect(badge).to_have_text("2")
        expect(badge).to_be_visible()
        assert _violations(page) == []
        screenshot(page, "widget-unread-badge-1280")
        page.set_viewport_size(PHONE)
        screenshot(page, "widget-unread-badge-360")

        # Enter opens it again: read, the badge goes.
        page.keyboard.press("Enter")
        expect(frame.locator("#input")).to_be_focused(timeout=TIMEOUT)
        expect(launcher(page)).to_have_accessible_name("Close chat")
        screenshot(page, "widget-open-focus-360")
        page.keyboard.press("Escape")
        expect(launcher(page)).to_have_accessible_name("Open chat", timeout=TIMEOUT)
        expect(badge).to_have_text("")  # no count left (a green dot: the operator is online)
    finally:
        operator.close()
    ctx.close()


# ---- a 360×640 phone


def _input_in_view(page: Page, frame: Any) -> None:
    """The message field lies within the visual viewport (what the visitor sees), top to bottom."""
    page.wait_for_function("visualViewport.height < innerHeight || innerHeight < 640", timeout=TIMEOUT)
    page.wait_for_timeout(200)  # the panel follows the viewport on its resize event
    view = page.evaluate("({top: visualViewport.offsetTop, height: visualViewport.height})")
    field = frame.locator("#input").bounding_box()
    assert field is not None, "no message field"
    assert view["top"] <= field["y"] and field["y"] + field["height"] <= view["top"] + view["height"] + 0.5, (field, view)


def test_phone_panel_fills_the_screen_keeps_the_input_visible_and_holds_the_page(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US", viewport=PHONE, is_mobile=True, has_touch=True, reduced_motion="reduce")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    # The page's own inline style on <html>: must be exactly as it was after the panel closes.
    page.evaluate("document.documentElement.style.setProperty('overflow-y', 'auto')")
    html_style = page.evaluate("document.documentElement.getAttribute('style')")
    page.evaluate("document.body.style.minHeight = '3000px'")  # a page long enough to scroll

    frame = open_widget(page)
    box = page.locator("frontdesk-widget iframe").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 360, "height": 640}, box

    # The page behind does not scroll while the panel covers it (a wheel over the panel's
    # header or composer, which do not scroll themselves, would scroll it).
    for y in (30, 615):
        page.mouse.move(100, y)
        page.mouse.wheel(0, 600)
    page.wait_for_timeout(300)
    assert page.evaluate("window.scrollY") == 0

    # Touch targets: every control at least 24×24 CSS px.
    small = frame.locator("body").evaluate("""() => [...document.querySelectorAll('button, a, select, input, textarea')]
        .filter(e => e.offsetParent).map(e => [e.id || e.tagName, e.getBoundingClientRect()])
        .filter(([, r]) => r.width < 24 || r.height < 24).map(([id, r]) => `${id} ${r.width}×${r.height}`)""")
    assert small == []
    launcher_box = launcher(page).bounding_box()
    assert launcher_box is not None and launcher_box["width"] >= 24 and launcher_box["height"] >= 24

    # prefers-reduced-motion: nothing moves, not even the "Connecting…" dot.
    moving = frame.locator("body").evaluate("""() => {
        document.querySelector('.head').classList.add('connecting');
        const out = [...document.querySelectorAll('*')].filter(e => {
            const s = getComputedStyle(e);
            return s.animationName !== 'none' || s.transitionDuration.split(',').some(d => parseFloat(d) > 0);
        }).map(e => e.className || e.tagName);
        document.querySelector('.head').classList.remove('connecting');
        return out;
    }""")
    assert moving == []

    # The on-screen keyboard takes the lower half: the input stays in view. A smaller window
    # shrinks both viewports; Chrome on Android's keyboard shrinks only the visual one (the
    # page keeps its layout size), as zooming in does: both ways the input must show.
    frame.locator("#input").focus()
    page.set_viewport_size({"width": 360, "height": 300})
    _input_in_view(page, frame)
    screenshot(page, "widget-phone-keyboard-300")
    page.set_viewport_size(PHONE)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Emulation.setPageScaleFactor", {"pageScaleFactor": 2})
    _input_in_view(page, frame)
    cdp.send("Emulation.setPageScaleFactor", {"pageScaleFactor": 1})

    # Closed: the page scrolls again, its <html> style exactly as the page left it.
    frame.locator("#close").click()
    expect(page.locator("frontdesk-widget iframe")).to_be_hidden(timeout=TIMEOUT)
    assert page.evaluate("document.documentElement.getAttribute('style')") == html_style
    page.mouse.wheel(0, 600)
    page.wait_for_function("window.scrollY > 0", timeout=TIMEOUT)
    ctx.close()
