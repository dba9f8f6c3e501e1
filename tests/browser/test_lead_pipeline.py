"""The lead pipeline in Chromium: operator A moves the lead, tags it, gives it an owner and
writes a note in the lead card beside a conversation; operator B, in another browser
context, sees each change live; the board shows the lead in its new column, is worked with
the keyboard, and shows hostile values as text at 1280, 768 and 360 px."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, open_conversation, open_widget, operator_login, visitor_says
from tests.browser.test_accessibility import _violations

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_TAG = "<img src=x onerror=alert('tag')>"
HOSTILE_REASON = "<script>alert('reason')</script> chose a cheaper offer"
HOSTILE_NOTE = "<b onmouseover=alert('note')>VIP</b>: call after 18:00"
HOSTILE_NAME = "<svg onload=alert('name')>Ola"
VERA = ("vera.pipeline@example.com", "Vera <i>V</i>")


@pytest.fixture(scope="module")
def vera(demo: Demo) -> tuple[str, str]:
    """A second operator (an agent), made the way an admin does."""
    subprocess.run(
        [sys.executable, "-m", "server.cli", "create-operator", VERA[0], "--name", VERA[1], "--role", "agent",
         "--password", demo.password, "--data-dir", str(demo.data_dir)],
        capture_output=True, text=True, check=True,
    )
    return VERA


def no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of sideways scroll at {page.viewport_size}"


def test_two_operators_work_the_pipeline_live_and_on_the_board(browser: Any, demo: Demo, vera: tuple[str, str]) -> None:
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    frames: list[str] = []   # everything the visitor's sockets receive
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else payload.decode())))
    page.goto(demo.demo_url + "/")
    widget = open_widget(page)
    visitor_says(widget, "Pipeline: 12 espresso machines for our cafes")
    expect(widget.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.evaluate("name => window.Frontdesk('identify', {name: name})", HOSTILE_NAME)

    anna_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    anna = operator_login(anna_ctx, demo.server_url, demo.email, demo.password)
    anna_errors = ConsoleErrors(anna)
    vera_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    vera_page = operator_login(vera_ctx, demo.server_url, vera[0], demo.password)
    vera_errors = ConsoleErrors(vera_page)
    for console in (anna, vera_page):
        open_conversation(console, "12 espresso machines")
        expect(console.locator("#fd-pipeline")).to_be_visible(timeout=TIMEOUT)
        expect(console.locator("#fd-pl-status")).to_have_value("new")
    lead_href = anna.locator("#fd-pl-page").get_attribute("href")
    assert lead_href and lead_href.startswith("/console/leads/")
    lead_id = lead_href.rsplit("/", 1)[1]

    # Status: Anna moves it, Vera's card follows.
    anna.locator("#fd-pl-status").select_option("qualified")
    anna.locator("#fd-pl-status").locator("xpath=..").get_by_role("button", name="Save status").click()
    expect(vera_page.locator("#fd-pl-status")).to_have_value("qualified", timeout=TIMEOUT)

    # Lost asks for a reason: refused without one, in the card; then given (hostile: as text).
    anna.locator("#fd-pl-status").select_option("lost")
    expect(anna.locator("#fd-pl-reason")).to_be_visible()
    anna.get_by_role("button", name="Save status").click()
    expect(anna.locator("#fd-pl-error")).to_have_text("Say why the lead was lost.")
    anna.locator("#fd-pl-reason").fill(HOSTILE_REASON)
    anna.locator("#fd-pl-reason").press("Enter")
    expect(vera_page.locator("#fd-pl-status")).to_have_value("lost", timeout=TIMEOUT)
    expect(vera_page.locator("#fd-pl-lost")).to_have_text("Lost: " + HOSTILE_REASON)
    expect(anna.locator("#fd-pl-error")).to_be_hidden()

    # A tag (hostile: shown as text, lower-cased), typed and sent with Enter.
    anna.locator("#fd-pl-tag").fill(HOSTILE_TAG.upper())
    anna.locator("#fd-pl-tag").press("Enter")
    expect(vera_page.locator("#fd-pl-tags .fd-tag-text")).to_have_text([HOSTILE_TAG.lower()], timeout=TIMEOUT)
    expect(anna.locator("#fd-pl-tag")).to_have_value("")
    anna.locator("#fd-pl-tag").fill("wholesale")
    anna.locator("#fd-pl-tag").press("Enter")
    expect(vera_page.locator("#fd-pl-tags .fd-tag-text")).to_have_count(2, timeout=TIMEOUT)
    anna.get_by_role("button", name="Remove tag “wholesale”").click()
    expect(vera_page.locator("#fd-pl-tags .fd-tag-text")).to_have_text([HOSTILE_TAG.lower()], timeout=TIMEOUT)

    # The owner: Vera.
    anna.locator("#fd-pl-owner").select_option(label=vera[1])
    anna.get_by_role("button", name="Set owner").click()
    expect(vera_page.locator("#fd-pl-owner option:checked")).to_have_text(vera[1], timeout=TIMEOUT)

    # A private note.
    anna.locator("#fd-pl-note").fill(HOSTILE_NOTE)
    anna.get_by_role("button", name="Add note").click()
    expect(vera_page.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text([HOSTILE_NOTE], timeout=TIMEOUT)
    expect(vera_page.locator("#fd-pl-notes .fd-lead-note-meta")).to_contain_text("Demo Operator")
    expect(anna.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text([HOSTILE_NOTE])   # once, not twice
    screenshot(vera_page, "pipeline-card")
    assert _violations(vera_page) == [], "the card with its pipeline"

    # The board: Vera sees the lead in the lost column, with the tag as text and her name.
    board = vera_ctx.new_page()
    board_errors = ConsoleErrors(board)
    board.goto(demo.server_url + "/console/leads/board")
    card = board.locator(f'.fd-board-col[data-status="lost"] #lead-{lead_id}')
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card.locator(".fd-tag-text")).to_have_text([HOSTILE_TAG.lower()])
    expect(card.locator(".fd-board-name")).to_have_text(HOSTILE_NAME)
    expect(card.locator(".fd-board-owner")).to_have_text(f"Owner: {vera[1]}")
    expect(card.locator(".fd-lost-reason")).to_have_text("Lost: " + HOSTILE_REASON)
    assert _violations(board) == [], "the board"

    # Anna wins it from the card: Vera's board moves the card live.
    anna.locator("#fd-pl-status").select_option("won")
    anna.get_by_role("button", name="Save status").click()
    expect(board.locator(f'.fd-board-col[data-status="won"] #lead-{lead_id}')).to_be_visible(timeout=TIMEOUT)
    expect(board.locator(f'.fd-board-col[data-status="lost"] #lead-{lead_id}')).to_have_count(0)

    # Vera moves it back to "contacted" with the keyboard only: Tab to the menu, choose, Enter.
    status = board.locator(f"#fd-b-{lead_id}-status")
    status.focus()
    status.select_option("contacted")
    board.keyboard.press("Tab")
    expect(board.locator(f"#lead-{lead_id} button[type=submit]").last).to_be_focused()
    board.keyboard.press("Enter")
    expect(board.locator(f'.fd-board-col[data-status="contacted"] #lead-{lead_id}')).to_be_visible(timeout=TIMEOUT)
    expect(anna.locator("#fd-pl-status")).to_have_value("contacted", timeout=TIMEOUT)
    expect(anna.locator("#fd-pl-lost")).to_be_hidden()

    # The lead's page: the same, its conversation linked; the note as text.
    lead_page = vera_ctx.new_page()
    lead_errors = ConsoleErrors(lead_page)
    lead_page.goto(demo.server_url + lead_href)
    expect(lead_page.locator("#fd-lead-status .fd-status")).to_have_text("Contacted")
    expect(lead_page.locator("h1")).to_have_text(HOSTILE_NAME)
    expect(lead_page.locator("#fd-lead-notes .fd-lead-note-body")).to_have_text([HOSTILE_NOTE])
    expect(lead_page.locator("#fd-lead-tags .fd-tag-text")).to_have_text([HOSTILE_TAG.lower()])
    expect(lead_page.locator("#fd-lead-convs a")).to_have_count(1)
    assert _violations(lead_page) == [], "the lead's page"
    anna.locator("#fd-pl-note").fill("Second note, from the card")
    anna.get_by_role("button", name="Add note").click()
    expect(lead_page.locator("#fd-lead-notes .fd-lead-note-body").first).to_have_text("Second note, from the card",
                                                                                       timeout=TIMEOUT)

    # No sideways scroll at a tablet's and a phone's width; screenshots for a person.
    for width in (1280, 768, 360):
        for shown, name in ((board, "board"), (lead_page, "lead"), (vera_page, "card")):
            shown.set_viewport_size({"width": width, "height": 900})
            no_sideways_scroll(shown)
            screenshot(shown, f"pipeline-{name}-{width}")

    # In another language: Russian labels, the same values.
    board.goto(demo.server_url + "/console/leads/board?lang=ru")
    expect(board.locator("h1")).to_have_text("Воронка лидов")
    expect(board.locator(f'.fd-board-col[data-status="contacted"] #lead-{lead_id} .fd-tag-text')).to_have_text(
        [HOSTILE_TAG.lower()])

    # Vera's console in Kazakh: the card's pipeline speaks it, the values stay as typed.
    kk = json.loads((ROOT / "server" / "i18n" / "kk.json").read_text(encoding="utf-8"))
    vera_page.set_viewport_size({"width": 1280, "height": 900})
    vera_page.locator("#fd-lang").select_option("kk")
    vera_page.locator("form.fd-langs button[type=submit]").click()
    expect(vera_page.locator("html")).to_have_attribute("lang", "kk", timeout=TIMEOUT)
    open_conversation(vera_page, "12 espresso machines")
    expect(vera_page.locator("#fd-pl-page")).to_have_text(kk["pipeline.open_page"], timeout=TIMEOUT)
    expect(vera_page.locator("#fd-pl-badge")).to_have_text(kk["leads.status.contacted"])
    expect(vera_page.locator("#fd-pl-tags .fd-tag-text")).to_have_text([HOSTILE_TAG.lower()])
    vera_page.locator("#fd-pl-status").select_option("lost")
    vera_page.locator("#fd-pl-reason").fill("")
    vera_page.locator("#fd-pl-reason").press("Enter")
    expect(vera_page.locator("#fd-pl-error")).to_have_text(kk["error.invalid.lost_reason"])

    # The visitor heard nothing of it: not the note, not the tag, not the reason.
    wire = "\n".join(frames)
    assert "12 espresso machines" in wire
    for secret in ("VIP", "onerror", "cheaper offer", "Second note", "lead.updated", '"pipeline"', vera[1]):
        assert secret not in wire, secret
    assert "VIP" not in page.locator("body").inner_text()
    for errors in (anna_errors, vera_errors, board_errors, lead_errors):
        assert errors.dialogs == [] and errors.errors == [], (errors.dialogs, errors.errors)
    for ctx in (visitor_ctx, anna_ctx, vera_ctx):
        ctx.close()


def test_notes_are_edited_and_deleted_live_and_the_board_filters_by_tag(browser: Any, demo: Demo,
                                                                          vera: tuple[str, str]) -> None:
    """Vera (an agent) edits her note in the card and Anna (an admin) sees it live; Vera gets
    no controls for Anna's note; Anna deletes Vera's note and it leaves Vera's card; the
    board shows only the leads with the tag chosen; the notes are text, never run."""
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else payload.decode())))
    page.goto(demo.demo_url + "/")
    visitor_says(open_widget(page), "Notes: three green sofas for our hall")

    anna_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    anna = operator_login(anna_ctx, demo.server_url, demo.email, demo.password)
    vera_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    vera_page = operator_login(vera_ctx, demo.server_url, vera[0], demo.password)
    errors = [ConsoleErrors(anna), ConsoleErrors(vera_page)]
    vera_page.locator("#fd-lang").select_option("en")   # the test above leaves her console in Kazakh
    vera_page.locator("form.fd-langs button[type=submit]").click()
    expect(vera_page.locator("html")).to_have_attribute("lang", "en", timeout=TIMEOUT)
    for console in (anna, vera_page):
        open_conversation(console, "three green sofas")
        expect(console.locator("#fd-pipeline")).to_be_visible(timeout=TIMEOUT)
    lead_id = (anna.locator("#fd-pl-page").get_attribute("href") or "").rsplit("/", 1)[1]

    # Vera writes a note, then edits it in her card; Anna's card follows, marked edited.
    vera_page.locator("#fd-pl-note").fill("Wants sofas by Friday")
    vera_page.get_by_role("button", name="Add note").click()
    anna_note = anna.locator("#fd-pl-notes .fd-lead-note", has_text="Wants sofas by Friday")
    expect(anna_note).to_be_visible(timeout=TIMEOUT)
    expect(anna_note.get_by_role("button", name="Edit note")).to_be_visible()   # an admin may
    mine = vera_page.locator("#fd-pl-notes .fd-lead-note").first
    mine.get_by_role("button", name="Edit note").click()
    box = mine.locator("textarea")
    expect(box).to_be_focused()
    box.fill(HOSTILE_NOTE)
    box.press("Tab")
    expect(mine.get_by_role("button", name="Save note")).to_be_focused()
    vera_page.keyboard.press("Enter")
    expect(anna.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text([HOSTILE_NOTE], timeout=TIMEOUT)
    expect(anna.locator("#fd-pl-notes .fd-lead-note-meta").first).to_contain_text("edited")
    expect(vera_page.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text([HOSTILE_NOTE])

    # Anna's own note: Vera sees it live, without controls.
    anna.locator("#fd-pl-note").fill("Anna: offer the blue ones too")
    anna.get_by_role("button", name="Add note").click()
    annas = vera_page.locator("#fd-pl-notes .fd-lead-note", has_text="offer the blue ones")
    expect(annas).to_be_visible(timeout=TIMEOUT)
    expect(annas.get_by_role("button")).to_have_count(0)

    # Anna deletes Vera's note (a second click confirms); it leaves Vera's card.
    hers = anna.locator("#fd-pl-notes .fd-lead-note", has_text="call after 18:00")
    hers.get_by_role("button", name="Delete note").click()
    expect(hers.locator(".fd-note-ask")).to_have_text("Delete this note? This cannot be undone.")
    expect(hers.get_by_role("button", name="Delete note")).to_be_focused()
    anna.keyboard.press("Enter")
    expect(vera_page.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text(["Anna: offer the blue ones too"],
                                                                              timeout=TIMEOUT)
    expect(anna.locator("#fd-pl-notes .fd-lead-note-body")).to_have_text(["Anna: offer the blue ones too"])

    # The lead's page: Anna's note with its edit form behind a disclosure, as text.
    lead_page = vera_ctx.new_page()
    errors.append(ConsoleErrors(lead_page))
    lead_page.goto(f"{demo.server_url}/console/leads/{lead_id}")
    expect(lead_page.locator("#fd-lead-notes .fd-lead-note-body")).to_have_text(["Anna: offer the blue ones too"])
    expect(lead_page.locator("#fd-lead-notes summary")).to_have_count(0)   # not Vera's

    # The board by tag: Anna tags the lead; the board filtered by it shows this lead alone.
    anna.locator("#fd-pl-tag").fill("Lobby Deal")
    anna.locator("#fd-pl-tag").press("Enter")
    expect(vera_page.locator("#fd-pl-tags .fd-tag-text")).to_have_text(["lobby deal"], timeout=TIMEOUT)
    board = vera_ctx.new_page()
    errors.append(ConsoleErrors(board))
    board.goto(demo.server_url + "/console/leads/board")
    expect(board.locator(".fd-board-card").first).to_be_visible(timeout=TIMEOUT)
    board.locator("#fd-board-tag").fill("LOBBY deal ")
    board.locator("#fd-board-tag").press("Enter")
    expect(board).to_have_url(re.compile(r"tag=LOBBY"), timeout=TIMEOUT)
    expect(board.locator(".fd-board-card")).to_have_count(1)
    expect(board.locator(f"#lead-{lead_id} .fd-tag-text")).to_have_text(["lobby deal"])
    expect(board.locator("#fd-board-tag")).to_have_value("lobby deal")
    # Live: the filtered board follows a move.
    anna.locator("#fd-pl-status").select_option("qualified")
    anna.get_by_role("button", name="Save status").click()
    expect(board.locator(f'.fd-board-col[data-status="qualified"] #lead-{lead_id}')).to_be_visible(timeout=TIMEOUT)
    expect(board.locator(".fd-board-card")).to_have_count(1)
    assert _violations(board) == [], "the board filtered by tag"
    for width in (768, 360):
        board.set_viewport_size({"width": width, "height": 900})
        no_sideways_scroll(board)
    screenshot(board, "board-by-tag-360")

    wire = "\n".join(frames)
    assert "three green sofas" in wire
    for secret in ("Friday", "call after 18:00", "blue ones", "lobby deal", "lead.updated"):
        assert secret not in wire, secret
    for collected in errors:
        assert collected.dialogs == [] and collected.errors == [], (collected.dialogs, collected.errors)
    for ctx in (visitor_ctx, anna_ctx, vera_ctx):
        ctx.close()
