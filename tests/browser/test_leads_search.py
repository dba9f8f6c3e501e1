"""Finding a lead in Chromium: a visitor gives a Kazakh number one way, the operator types it
another on the Leads page (keyboard only) and finds them, with the matching message as an
escaped snippet; the export downloads a CSV that parses with Cyrillic intact and the
formula neutralised; the conversation's transcript downloads from the thread; the page has
no sideways scroll at 360 px."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, launcher, operator_login, panel

NAME = "=Айгерім <img src=x onerror=alert(1)>"


def _violations(page: Any) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in Axe().run(page).response["violations"]]


def _csv(download: Any, delimiter: str) -> list[dict[str, str]]:
    raw = Path(download.path()).read_bytes()
    assert raw.startswith("\ufeff".encode("utf-8"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def test_a_phone_typed_differently_finds_the_lead_and_the_export_parses(
    browser: Any, demo: Demo, host_site: HostSite
) -> None:
    key = demo.add_site(host_site.origin, "Aurora search", "--prechat", "required", "--prechat-fields",
                        "name,email,phone", "--default-country", "KZ")
    visitor_ctx = browser.new_context(locale="ru-RU")
    page = visitor_ctx.new_page()
    page.goto(f"{host_site.origin}/leads-shop.html?key={key}")
    launcher(page).click()
    frame = panel(page)
    expect(frame.locator("#prechat")).to_be_visible(timeout=TIMEOUT)
    frame.locator("#pc-name").fill(NAME)
    frame.locator("#pc-email").fill("aigerim.search@example.com")
    frame.locator("#pc-phone").fill("+7 701 555 44 33")
    frame.locator("#prechat-start").click()
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    frame.locator("#input").fill("Сколько стоит доставка кофемашины в Алматы?")
    frame.locator("#input").press("Enter")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Отправлено", timeout=TIMEOUT)

    operator_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    console = operator_login(operator_ctx, demo.server_url, demo.email, demo.password)
    errors = ConsoleErrors(console)
    console.goto(demo.server_url + "/console/leads")
    # Keyboard only: the search box, typed as people in Kazakhstan write numbers, Enter.
    console.locator("#fd-q").focus()
    console.keyboard.type("8 (701) 555-44-33")
    console.keyboard.press("Enter")
    rows = console.locator("table.fd-leads tbody tr")
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    expect(rows.first).to_contain_text("aigerim.search@example.com")
    expect(rows.first.locator("th")).to_contain_text(NAME)  # as text: nothing of it runs
    expect(console.locator("table.fd-leads img")).to_have_count(0)

    # Words from the chat, in another form of the word: the message as a snippet.
    console.locator("#fd-q").fill("доставку кофемашина")
    console.locator("#fd-q").press("Enter")
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    expect(rows.first.locator(".fd-match mark")).to_have_text(["доставка", "кофемашины"])
    expect(rows.first.locator(".fd-match-kind")).to_have_text("Visitor wrote")
    screenshot(console, "leads-search")
    assert _violations(console) == [], "the Leads page with results"

    # Export the current search, comma-separated, from the keyboard.
    console.locator("#fd-export-sep").select_option("comma")
    with console.expect_download() as caught:
        console.locator("form.fd-export button[type=submit]").press("Enter")
    leads = _csv(caught.value, ",")
    assert [lead["email"] for lead in leads] == ["aigerim.search@example.com"]
    assert leads[0]["name"] == "'" + NAME and leads[0]["phone"] == "'+77015554433"

    # The phone at 360 px: the form and results wrap, nothing scrolls sideways.
    console.set_viewport_size({"width": 360, "height": 800})
    expect(rows.first).to_be_visible()
    assert console.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert _violations(console) == [], "the Leads page at 360 px"
    console.set_viewport_size({"width": 768, "height": 900})
    assert console.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    console.set_viewport_size({"width": 1280, "height": 900})
    # In Kazakh: the form's labels and a bad filter's message in the operator's language.
    console.goto(demo.server_url + "/console/leads?lang=kk&from=2026-03-05&to=2026-03-01&q=" + "доставка")
    expect(console.locator("#fd-search-error")).to_have_text("Соңғы күн бастапқы күннен бұрын.")
    expect(console.locator("label[for=fd-f-owner]")).to_have_text("Жауапты")
    assert [e for e in errors.errors if "400" not in e] == []  # the page itself answers 400: expected
    errors.errors.clear()
    console.goto(demo.server_url + "/console/leads?lang=en&q=" + "доставку кофемашина")

    # From the snippet to the conversation, and its transcript from the thread.
    rows.first.locator(".fd-match a").click()
    expect(console.locator("#fd-thread .fd-msg-body").first).to_have_text(
        "Сколько стоит доставка кофемашины в Алматы?", timeout=TIMEOUT)
    with console.expect_download() as caught:
        console.locator("#fd-transcript").click()
    transcript = _csv(caught.value, ",")  # the console is in English: comma
    assert [line["text"] for line in transcript] == ["Сколько стоит доставка кофемашины в Алматы?"]
    assert errors.errors == [] and errors.dialogs == []
    visitor_ctx.close()
    operator_ctx.close()
