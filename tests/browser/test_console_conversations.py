"""Working a conversation in the console, in Chromium: two operators in two browser
contexts assign, transfer with a note, write private notes, close and reopen, and each
sees the other's actions live; the visitor on the demo site never sees a note."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import (
    TIMEOUT,
    ConsoleErrors,
    open_conversation,
    open_widget,
    operator_login,
    visitor_says,
)

HOSTILE_NOTE = "<img src=x onerror=alert('note')> VIP: give 15% off"
HOSTILE_TRANSFER = "<script>alert('transfer')</script> wants a call at 18:00"
BORIS = ("boris@example.com", "Boris <b>Bold</b>")


@pytest.fixture(scope="module")
def boris(demo: Demo) -> tuple[str, str]:
    """A second operator, made the way an admin does (the CLI)."""
    subprocess.run(
        [sys.executable, "-m", "server.cli", "create-operator", BORIS[0], "--name", BORIS[1], "--role", "agent",
         "--password", demo.password, "--data-dir", str(demo.data_dir)],
        capture_output=True, text=True, check=True,
    )
    return BORIS


def system_lines(console: Page) -> Any:
    return console.locator("#fd-thread .fd-entry .fd-entry-text")


def test_two_operators_assign_transfer_note_close_and_reopen_live(browser: Any, demo: Demo, boris: tuple[str, str]) -> None:
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    frames: list[str] = []   # everything the visitor's sockets receive

    def watch(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else payload.decode()))

    page.on("websocket", watch)
    visitor_errors = ConsoleErrors(page)
    page.goto(demo.demo_url + "/")
    widget = open_widget(page)
    visitor_says(widget, "I need a quote for 40 chairs")
    expect(widget.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    anna_ctx = browser.new_context(locale="en-US")
    anna = operator_login(anna_ctx, demo.server_url, demo.email, demo.password)
    anna_errors = ConsoleErrors(anna)
    boris_ctx = browser.new_context(locale="en-US")
    boris_page = operator_login(boris_ctx, demo.server_url, boris[0], demo.password)
    boris_errors = ConsoleErrors(boris_page)
    for console in (anna, boris_page):
        open_conversation(console, "40 chairs")

    # Anna takes it: both consoles show the line, and Anna's "Mine" counts it.
    mine_before = int(anna.locator('[data-count="mine"]').text_content() or "0")
    anna.locator("#fd-assign").select_option(label="Demo Operator")
    for console in (anna, boris_page):
        expect(system_lines(console).last).to_contain_text("Demo Operator took this conversation", timeout=TIMEOUT)
    expect(anna.locator('[data-count="mine"]')).to_have_text(str(mine_before + 1), timeout=TIMEOUT)
    expect(boris_page.locator("#fd-assign")).to_have_value(anna.locator("#fd-assign").input_value())

    # Anna transfers it to Boris with a note (for operators only).
    anna.locator("#fd-assign").select_option(label=boris[1])
    expect(anna.locator("#fd-transfer")).to_be_visible()
    anna.locator("#fd-transfer-note").fill(HOSTILE_TRANSFER)
    anna.locator("#fd-transfer button[type=submit]").click()
    for console in (anna, boris_page):
        line = console.locator("#fd-thread .fd-entry").last
        expect(line.locator(".fd-entry-text")).to_contain_text(f"Demo Operator transferred this to {boris[1]}", timeout=TIMEOUT)
        expect(line.locator(".fd-entry-note")).to_contain_text(HOSTILE_TRANSFER)   # as text
    expect(anna.locator("#fd-transfer")).to_be_hidden()
    boris_page.locator('.fd-filter[data-filter="mine"]').click()
    expect(boris_page.locator("#fd-conv-list .fd-conv-item", has_text="40 chairs")).to_be_visible()
    expect(boris_page.locator('[data-count="mine"]')).to_have_text("1")

    # Boris writes a private note: it looks different, and Anna sees it live.
    boris_page.locator('.fd-mode[data-mode="note"]').click()
    expect(boris_page.locator("#fd-composer")).to_have_attribute("data-mode", "note")
    boris_page.locator("#fd-reply").fill(HOSTILE_NOTE)
    boris_page.locator("#fd-reply").press("Enter")
    for console in (anna, boris_page):
        note = console.locator("#fd-thread .fd-note").last
        expect(note.locator(".fd-note-body")).to_have_text(HOSTILE_NOTE, timeout=TIMEOUT)
        expect(note.locator(".fd-note-label")).to_have_text("Private note")
    expect(boris_page.locator("#fd-reply")).to_have_value("")
    screenshot(boris_page, "console-note-and-transfer")

    # Boris closes it; Anna sees it closed and reopens it.
    boris_page.locator("#fd-close").click()
    for console in (anna, boris_page):
        expect(system_lines(console).last).to_contain_text(f"{boris[1]} closed this conversation", timeout=TIMEOUT)
        expect(console.locator("#fd-reopen")).to_be_visible()
        expect(console.locator("#fd-close")).to_be_hidden()
    anna.locator("#fd-reopen").click()
    for console in (anna, boris_page):
        expect(system_lines(console).last).to_contain_text("Demo Operator reopened this conversation", timeout=TIMEOUT)
        expect(console.locator("#fd-close")).to_be_visible()

    # Closed again, then the visitor writes: the same conversation opens again.
    anna.locator("#fd-close").click()
    expect(boris_page.locator("#fd-reopen")).to_be_visible(timeout=TIMEOUT)
    visitor_says(widget, "Also 4 tables please")
    for console in (anna, boris_page):
        expect(system_lines(console).last).to_contain_text("The visitor wrote again", timeout=TIMEOUT)
        expect(console.locator("#fd-thread .fd-msg-body").last).to_have_text("Also 4 tables please")
        expect(console.locator("#fd-close")).to_be_visible()

    # The visitor saw their own thread and nothing else: not in the widget, not on the wire,
    # not after reloading the page (the replay from the server).
    mine = widget.locator("#thread li.msg.me .bubble")
    expect(mine).to_have_text(["I need a quote for 40 chairs", "Also 4 tables please"])
    page.reload()
    widget = open_widget(page)
    mine = widget.locator("#thread li.msg.me .bubble")
    expect(mine).to_have_text(["I need a quote for 40 chairs", "Also 4 tables please"], timeout=TIMEOUT)
    widget_text = widget.locator("body").inner_text()
    wire = "\n".join(frames)
    assert frames and "40 chairs" in wire
    for secret in ("15% off", "wants a call", "closed", "transferred", boris[1], "note.created", "conversation.assigned"):
        assert secret not in widget_text, secret
        assert secret not in wire, secret
    for frame in frames:
        assert json.loads(frame)["type"] in ("welcome", "message.created", "ack", "presence", "typing", "pong",
                                             "conversation.read", "identified", "error"), frame
    assert not visitor_errors.dialogs and not anna_errors.dialogs and not boris_errors.dialogs
    assert not anna_errors.errors and not boris_errors.errors, anna_errors.errors + boris_errors.errors
    for ctx in (visitor_ctx, anna_ctx, boris_ctx):
        ctx.close()


def test_a_canned_shortcut_expands_with_the_names(browser: Any, demo: Demo) -> None:
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    visitor_errors = ConsoleErrors(page)
    page.goto(demo.demo_url + "/")
    widget = open_widget(page)
    page.evaluate("() => window.Frontdesk('identify', {name: 'Aigerim <i>'})")
    visitor_says(widget, "How much is the grinder?")
    expect(widget.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    ctx = browser.new_context(locale="en-US")
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    errors = ConsoleErrors(console)

    # Made in the console's dialog (from the reply box), shown there as text.
    open_conversation(console, "How much is the grinder?")
    body = "Hello {visitor_name}, I am {operator_name}. <b>The grinder</b> is 25 000 ₸."
    console.locator("#fd-canned-open").click()
    dialog = console.locator("#fd-canned-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#fd-canned-shortcut").fill("grinder-price")
    dialog.locator("#fd-canned-body").fill(body)
    dialog.locator("#fd-canned-form button[type=submit]").click()
    expect(dialog.locator(".fd-canned-item .fd-canned-body", has_text="The grinder")).to_have_text(body, timeout=TIMEOUT)
    dialog.locator("#fd-canned-shortcut").fill("grinder-price")   # the same shortcut again: refused, said why
    dialog.locator("#fd-canned-body").fill("again")
    dialog.locator("#fd-canned-form button[type=submit]").click()
    expect(dialog.locator("#fd-canned-error")).to_have_text("This shortcut is already taken.", timeout=TIMEOUT)
    console.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(console.locator("#fd-canned-open")).to_be_focused()

    reply = console.locator("#fd-reply")
    reply.press_sequentially("/grind", delay=20)
    option = console.locator("#fd-canned-suggest .fd-canned-option").first
    expect(option).to_contain_text("/grinder-price", timeout=TIMEOUT)
    reply.press("Tab")
    expected = "Hello Aigerim <i>, I am Demo Operator. <b>The grinder</b> is 25 000 ₸."
    expect(reply).to_have_value(expected)
    expect(console.locator("#fd-canned-suggest")).to_be_hidden()
    expect(reply).to_be_focused()
    reply.press("Enter")
    expect(widget.locator("#thread li.msg.op .bubble").last).to_have_text(expected, timeout=TIMEOUT)
    unexpected = [e for e in errors.errors if "status of 400" not in e]   # the refused duplicate
    assert not errors.dialogs and not visitor_errors.dialogs and not unexpected, unexpected
    visitor_ctx.close()
    ctx.close()


@pytest.mark.parametrize("locale, sent, seen", [("en-US", "Sent", "Seen"), ("ru-RU", "Отправлено", "Прочитано")])
def test_the_widget_shows_seen_after_the_operator_opens_the_conversation(
    browser: Any, demo: Demo, locale: str, sent: str, seen: str
) -> None:
    visitor_ctx = browser.new_context(locale=locale)
    page = visitor_ctx.new_page()
    page.goto(demo.demo_url + "/")
    widget = open_widget(page)
    text = f"Is the shop open on Sunday? ({locale})"
    visitor_says(widget, text)
    meta = widget.locator("#thread li.msg.me .meta").last
    expect(meta).to_contain_text(sent, timeout=TIMEOUT)

    ctx = browser.new_context(locale="en-US")
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    expect(console.locator("#fd-conv-list .fd-conv-item", has_text=text)).to_be_visible(timeout=TIMEOUT)
    expect(meta).to_contain_text(sent)   # listed in the inbox is not read
    open_conversation(console, text)
    expect(meta).to_contain_text(seen, timeout=TIMEOUT)
    expect(meta).not_to_contain_text(sent)

    # A reload keeps it (the welcome says how far the operator has read), and a new
    # message is "Sent" again until the operator reads it too (the conversation is open).
    page.reload()
    widget = open_widget(page)
    expect(widget.locator("#thread li.msg.me .meta").last).to_contain_text(seen, timeout=TIMEOUT)
    visitor_says(widget, "And on Monday?")
    expect(widget.locator("#thread li.msg.me .meta").last).to_contain_text(seen, timeout=TIMEOUT)
    visitor_ctx.close()
    ctx.close()


# The console as a background tab: visibilityState says "hidden" when the test wants it,
# and the Notification API and Web Audio are recorded (headless Chromium shows neither).
BACKGROUND_TAB = """
window.__fdHidden = false;
Object.defineProperty(Document.prototype, 'visibilityState', {
  configurable: true, get() { return window.__fdHidden ? 'hidden' : 'visible'; } });
window.__fdNotes = [];
window.Notification = class {
  constructor(title, options) { window.__fdNotes.push({title, body: options && options.body}); }
  close() {}
  static get permission() { return 'granted'; }
  static requestPermission() { return Promise.resolve('granted'); }
};
window.__fdTones = 0;
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.__fdTones++; return createOscillator.call(this); };
"""


def test_sound_and_desktop_notification_in_the_background_and_turned_off(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    ctx.add_init_script(BACKGROUND_TAB)
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    console.locator("#fd-list-heading").click()   # a user gesture: the sound may play from now on
    console.evaluate("window.__fdHidden = true")

    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    page.goto(demo.demo_url + "/")
    widget = open_widget(page)
    visitor_says(widget, "<b>Anyone</b> there?")
    console.wait_for_function("() => window.__fdNotes.length >= 1", timeout=TIMEOUT)
    note = console.evaluate("window.__fdNotes[0]")
    assert note["title"].startswith("New conversation: ") and note["body"] == "<b>Anyone</b> there?"
    assert console.evaluate("window.__fdTones") == 2   # one two-tone sound, not one per event

    visitor_says(widget, "Hello?")
    console.wait_for_function("() => window.__fdNotes.length >= 2", timeout=TIMEOUT)
    assert console.evaluate("window.__fdNotes[1]")["title"].startswith("New message from ")
    assert console.evaluate("window.__fdTones") == 4

    # In front of the operator: nothing. Turned off: nothing either, after a reload too.
    console.evaluate("window.__fdHidden = false")
    visitor_says(widget, "Still there?")
    expect(console.locator("#fd-conv-list .fd-conv-item", has_text="Still there?")).to_be_visible(timeout=TIMEOUT)
    console.locator(".fd-notify summary").click()
    console.locator("#fd-notify-sound").uncheck()
    console.locator("#fd-notify-desktop").uncheck()
    console.reload()
    expect(console.locator("#fd-conn")).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    console.locator(".fd-notify summary").click()
    expect(console.locator("#fd-notify-sound")).not_to_be_checked()
    expect(console.locator("#fd-notify-desktop")).not_to_be_checked()
    console.evaluate("window.__fdHidden = true")
    visitor_says(widget, "Last try")
    expect(console.locator("#fd-conv-list .fd-conv-item", has_text="Last try")).to_be_visible(timeout=TIMEOUT)
    assert console.evaluate("[window.__fdNotes.length, window.__fdTones]") == [0, 0]
    console.locator("#fd-notify-sound").check()   # back on for the other tests' operator
    console.locator("#fd-notify-desktop").check()
    visitor_ctx.close()
    ctx.close()
