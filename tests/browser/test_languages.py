"""The widget speaks the visitor's browser language; a site can force one."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite
from tests.browser.helpers import TIMEOUT, launcher, open_widget


def test_russian_browser_gets_a_russian_widget(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="ru-RU")
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    expect(launcher(page)).to_have_accessible_name("Открыть чат", timeout=TIMEOUT)
    frame = open_widget(page)
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Введите сообщение", timeout=TIMEOUT)
    ctx.close()


def test_site_can_force_its_language(browser: Any, demo: Demo, host_site: HostSite) -> None:
    forced_key = demo.add_site(host_site.origin, "Russian only", "--language", "ru")
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={forced_key}")
    expect(launcher(page)).to_have_accessible_name("Открыть чат", timeout=TIMEOUT)
    frame = open_widget(page)
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Введите сообщение", timeout=TIMEOUT)
    ctx.close()


def test_demo_greets_a_russian_visitor_in_russian(browser: Any, demo: Demo) -> None:
    from server.demo import DEMO_GREETINGS

    for locale, greeting in [("ru-RU", DEMO_GREETINGS["ru"]), ("en-US", DEMO_GREETINGS["en"])]:
        ctx = browser.new_context(locale=locale)
        page = ctx.new_page()
        page.goto(demo.demo_url + "/")
        frame = open_widget(page)
        first = frame.locator("#thread li.msg").first
        expect(first.locator(".bubble")).to_have_text(greeting, timeout=TIMEOUT)
        expect(first.locator(".who")).to_have_text("Aurora Coffee Roasters")
        expect(frame.locator("#site-name")).to_have_text("Aurora Coffee Roasters")
        ctx.close()
    assert DEMO_GREETINGS["ru"].startswith("Здравствуйте")
