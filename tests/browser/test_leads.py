"""Leads in Chromium: a visitor lands from a campaign, fills the pre-chat form, moves to
another page and chats; the operator sees who they are, where they are, their browser, the
page trail and the campaign, live; the same person from a second browser (same email) is
one lead with both conversations.

A server of its own: it trusts 127.0.0.1 as a proxy, so the browser's X-Forwarded-For gives
the visitor a real (Kazakh) address to geolocate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, new_demo, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, launcher, open_conversation, operator_login, panel

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "utm_source=newsletter&utm_medium=email&utm_campaign=autumn_sale"


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, HostSite]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1")
        demo = new_demo(tmp_path_factory.mktemp("leads-demo"))
    host = HostSite(demo.server_url).start()
    try:
        yield demo, host
    finally:
        host.stop()
        demo.stop()


def visitor_arrives(browser: Any, host: HostSite, key: str, address: str) -> tuple[Any, Any, ConsoleErrors]:
    context = browser.new_context(locale="en-US")
    # As a proxy would: the panel's (same-origin) registration comes "through" 127.0.0.1.
    # Only there: an extra header on the host page's cross-origin calls would need a preflight.
    context.route("**/api/widget/v1/sites/*/visitors", lambda route: route.continue_(
        headers={**route.request.headers, "x-forwarded-for": address}))
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host.origin}/leads-shop.html?key={key}&{CAMPAIGN}")
    return context, page, errors


def introduce(frame: Any, name: str, email: str, phone: str) -> None:
    expect(frame.locator("#prechat")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#composer")).to_be_hidden()  # required: the form comes first
    frame.locator("#pc-name").fill(name)
    frame.locator("#pc-email").fill(email)
    frame.locator("#pc-phone").fill(phone)
    frame.locator("#prechat-start").click()
    expect(frame.locator("#prechat")).to_be_hidden(timeout=TIMEOUT)
    expect(frame.locator("#input")).to_be_visible()


def card_value(console: Any, label: str) -> Any:
    return console.locator("#fd-lead-card .fd-lead-details > div", has=console.locator("dt", has_text=label)).locator("dd")


def test_a_visitor_from_a_campaign_becomes_one_lead_on_two_browsers(browser: Any, trusting: tuple[Demo, HostSite]) -> None:
    demo, host = trusting
    key = demo.add_site(host.origin, "Aurora leads", "--prechat", "required", "--prechat-fields", "name,email,phone",
                        "--default-country", "KZ")
    operator_ctx = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    console = operator_login(operator_ctx, demo.server_url, demo.email, demo.password)

    context, page, errors = visitor_arrives(browser, host, key, "2.132.0.1")
    launcher(page).click()
    frame = panel(page)
    # The form checks each field and names the wrong one in the visitor's language.
    expect(frame.locator("#prechat")).to_be_visible(timeout=TIMEOUT)
    frame.locator("#pc-name").fill("Maria <b>K</b>")
    frame.locator("#pc-email").fill("maria@")
    frame.locator("#prechat-start").click()
    expect(frame.locator("#pc-email-error")).to_have_text("Enter a valid email address, like name@example.com.")
    expect(frame.locator("#pc-phone-error")).to_have_text("Enter your phone number.")
    introduce(frame, "Maria <b>K</b>", "maria@example.com", "8 (701) 123-45-67")  # a Kazakh number as typed there

    page.locator("#to-beans").click()  # single-page-app navigation: no reload
    frame.locator("#input").fill("Do you have fresh beans?")
    frame.locator("#input").press("Enter")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    open_conversation(console, "Do you have fresh beans?")
    expect(console.locator("#fd-d-name")).to_have_text("Maria <b>K</b>", timeout=TIMEOUT)
    expect(console.locator("#fd-d-email")).to_have_text("maria@example.com")
    expect(console.locator("#fd-d-phone")).to_have_text("+7 701 123 45 67")
    expect(card_value(console, "IP address")).to_have_text("2.132.0.1", timeout=TIMEOUT)
    expect(card_value(console, "Location")).to_have_text("Kazakhstan (KZ)")
    expect(card_value(console, "Browser")).to_contain_text("Chrome")
    expect(card_value(console, "System")).to_have_text("Linux")
    expect(card_value(console, "Campaign (UTM)")).to_contain_text("campaign: autumn_sale")
    expect(card_value(console, "Current page")).to_have_text("Aurora Coffee — beans <b>fresh</b>", timeout=TIMEOUT)
    trail = console.locator("#fd-lead-card .fd-lead-pages li")
    expect(trail).to_have_text(["Aurora Coffee — home", "Aurora Coffee — beans <b>fresh</b>"])

    # The current page changes while the operator watches.
    page.locator("#to-grinders").click()
    expect(card_value(console, "Current page")).to_have_text("Aurora Coffee — grinders", timeout=TIMEOUT)
    screenshot(console, "leads-card")
    assert errors.errors == [] and errors.dialogs == []

    # The same person on another browser: a new visitor, the same email, one lead.
    other_ctx, other, other_errors = visitor_arrives(browser, host, key, "5.255.255.5")
    launcher(other).click()
    other_frame = panel(other)
    introduce(other_frame, "Maria", "Maria@Example.com", "+7 701 123 45 67")
    other_frame.locator("#input").fill("Me again, from my phone")
    other_frame.locator("#input").press("Enter")
    expect(other_frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)

    open_conversation(console, "Me again, from my phone")
    expect(console.locator("#fd-lead-card .fd-lead-returning")).to_contain_text(
        "Returning: 1 earlier conversation, first seen", timeout=TIMEOUT)
    conversations = console.locator("#fd-lead-card .fd-lead-conversations li")
    expect(conversations).to_have_count(2)
    # The pages by visit: the first browser's three, then the second's landing page.
    expect(console.locator("#fd-lead-card .fd-lead-visit")).to_have_count(2, timeout=TIMEOUT)
    expect(console.locator("#fd-lead-card ol.fd-lead-pages").last.locator("li")).to_have_text(["Aurora Coffee — home"])
    # One click opens the earlier one.
    conversations.locator("a").first.click()
    expect(console.locator("#fd-thread .fd-msg-body").first).to_have_text("Do you have fresh beans?", timeout=TIMEOUT)

    leads_page = operator_ctx.new_page()
    leads_page.goto(demo.server_url + "/console/leads")
    rows = leads_page.locator("table.fd-leads tbody tr", has_text="maria@example.com")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("newsletter / email")
    expect(rows.first).to_contain_text("2 conversations")
    screenshot(leads_page, "leads-page")
    assert other_errors.errors == [] and other_errors.dialogs == []
    for ctx in (context, other_ctx, operator_ctx):
        ctx.close()


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_an_optional_form_never_stands_before_the_message_box(browser: Any, trusting: tuple[Demo, HostSite],
                                                              lang: str) -> None:
    """Optional: the form is offered above the thread, the message box works all along, Skip
    puts it away for good; its words and the server's refusals are in the visitor's language;
    axe finds nothing on it at a phone's width."""
    from axe_playwright_python.sync_playwright import Axe

    demo, host = trusting
    key = demo.add_site(host.origin, f"Optional form {lang}", "--prechat", "optional", "--prechat-fields", "email,phone")
    context = browser.new_context(locale=lang, viewport={"width": 360, "height": 640})
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host.origin}/leads-shop.html?key={key}")
    launcher(page).click()
    frame = panel(page)
    expect(frame.locator("#prechat")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#input")).to_be_visible()
    expect(frame.locator("#pc-name-row")).to_be_hidden()  # not asked by this site
    texts = json.loads((ROOT / "widget" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    expect(frame.locator("#prechat-skip")).to_have_text(texts["prechat_skip"])
    panel_frame = next(f for f in page.frames if "/widget/panel.html" in f.url)
    violations = Axe().run(panel_frame).response["violations"]
    assert violations == [], [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]

    # A phone without a country code, from an address with no country: the server refuses it,
    # naming the field in the visitor's language; the good email is kept.
    frame.locator("#pc-email").fill("olga@example.com")
    frame.locator("#pc-phone").fill("701 123 45 67")
    frame.locator("#prechat-start").click()
    server_says = json.loads((ROOT / "server" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))["error.invalid.phone"]
    expect(frame.locator("#pc-phone-error")).to_have_text(server_says, timeout=TIMEOUT)

    frame.locator("#input").fill("Сәлем / Привет")  # the message box never waited for the form
    frame.locator("#input").press("Enter")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text(texts["sent"], timeout=TIMEOUT)
    frame.locator("#prechat-skip").click()
    expect(frame.locator("#prechat")).to_be_hidden()
    page.reload()
    launcher(page).click()
    expect(panel(page).locator("#input")).to_be_visible(timeout=TIMEOUT)
    expect(panel(page).locator("#prechat")).to_be_hidden()  # skipped is remembered
    assert errors.errors == [] and errors.dialogs == []
    context.close()


def test_a_required_form_this_browser_skipped_is_asked_for_again(browser: Any, trusting: tuple[Demo, HostSite]) -> None:
    """The server enforces a required form: a browser that had skipped it (before the site
    made it required) sends a first message, is refused in its language, and is shown the
    form for the missing field; the refused text waits in the box and goes once it is done."""
    demo, host = trusting
    key = demo.add_site(host.origin, "Required since", "--prechat", "required", "--prechat-fields", "email")
    context = browser.new_context(locale="ru-RU")
    # What the panel remembers of a form skipped on an earlier visit, in its own origin's storage.
    context.add_init_script(f"if (location.origin === {json.dumps(demo.server_url)}) "
                            f"localStorage.setItem('fd:{key}:prechat', 'skipped');")
    page = context.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host.origin}/leads-shop.html?key={key}")
    launcher(page).click()
    frame = panel(page)
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#prechat")).to_be_hidden()
    frame.locator("#input").fill("Здравствуйте, есть зерно?")
    frame.locator("#input").press("Enter")
    server_says = json.loads((ROOT / "server" / "i18n" / "ru.json").read_text(encoding="utf-8"))
    expected = server_says["error.prechat_required"].format(names=server_says["prechat.field.email"])
    expect(frame.locator("#prechat-status")).to_have_text(expected, timeout=TIMEOUT)
    expect(frame.locator("#composer")).to_be_hidden()
    expect(frame.locator("#pc-email-row")).to_be_visible()
    expect(frame.locator("#pc-name-row")).to_be_hidden()
    expect(frame.locator("#thread li.msg.me")).to_have_count(0)  # nothing was stored, nothing shown as sent
    frame.locator("#pc-email").fill("olga@example.com")
    frame.locator("#prechat-start").click()
    # The box shows once the server accepted the form (the refused text waited in it all along:
    # pressing Enter before that would land on the form, as it would for a person).
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator("#input")).to_have_value("Здравствуйте, есть зерно?")
    frame.locator("#input").press("Enter")
    texts = json.loads((ROOT / "widget" / "i18n" / "ru.json").read_text(encoding="utf-8"))
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text(texts["sent"], timeout=TIMEOUT)
    expect(frame.locator("#thread li.msg.me")).to_have_count(1)
    assert errors.errors == [] and errors.dialogs == []
    context.close()
