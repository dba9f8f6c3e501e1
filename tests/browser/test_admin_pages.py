"""The admin pages in a real browser: deactivating an operator cuts their open console off
at once; a site settings change reaches an open widget without a reload of the host page;
the pages fit 1280, 768 and 360 px in every console language, and work from the keyboard."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import TIMEOUT, ConsoleErrors, open_widget, operator_login

AGENT_PASSWORD = "agent-password-123"
WIDTHS = (1280, 768, 360)
LANGS = {"en": "Operators", "ru": "Операторы", "uk": "Оператори", "kk": "Операторлар"}


def cli(demo: Demo, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--data-dir", str(demo.data_dir)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def add_agent(demo: Demo, name: str) -> str:
    email = f"agent-{time.monotonic_ns()}@example.com"
    cli(demo, "create-operator", email, "--name", name, "--role", "agent", "--password", AGENT_PASSWORD)
    return email


def violations(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}" for v in result.response["violations"]]


def fits(page: Page) -> None:
    width = page.viewport_size["width"]
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll}px wide in a {width}px viewport"


def test_a_deactivated_operators_open_console_is_cut_off(browser: Any, demo: Demo) -> None:
    email = add_agent(demo, "Boris")
    agent_ctx = browser.new_context(locale="ru-RU")
    agent = operator_login(agent_ctx, demo.server_url, email, AGENT_PASSWORD)
    errors = ConsoleErrors(agent)
    expect(agent.locator('a[href="/console/operators"]')).to_have_count(0)  # no admin link for an agent

    admin_ctx = browser.new_context(locale="en-US")
    admin = operator_login(admin_ctx, demo.server_url, demo.email, demo.password)
    admin.goto(demo.server_url + "/console/operators")
    admin.locator("#fd-operators").get_by_role("link", name="Boris").first.click()
    expect(admin.locator("h1")).to_have_text("Boris")
    started = time.monotonic()
    admin.get_by_role("button", name="Deactivate").click()
    expect(admin.locator(".fd-notice")).to_contain_text("Deactivated", timeout=TIMEOUT)

    banner = agent.locator("#fd-session-ended")
    expect(banner).to_be_visible(timeout=5_000)  # the hub carries it: not the 30 s session check
    took = time.monotonic() - started
    expect(agent.locator("#fd-conn")).to_have_attribute("data-state", "expired")
    print(f"deactivation to the console's banner: {took:.2f} s")
    assert took < 5
    screenshot(agent, "admin-deactivated-console")
    # And they cannot come back.
    agent.goto(demo.server_url + "/console/login")
    agent.locator("#fd-login-email").fill(email)
    agent.locator("#fd-login-password").fill(AGENT_PASSWORD)
    agent.locator("form.fd-login-form button[type=submit]").click()
    expect(agent.locator("#fd-login-error")).to_be_visible(timeout=TIMEOUT)
    assert not errors.dialogs
    agent_ctx.close()
    admin_ctx.close()


def test_a_site_settings_change_reaches_an_open_widget(browser: Any, demo: Demo, host_site: HostSite) -> None:
    key = demo.add_site(host_site.origin, "Live settings")
    visitor_ctx = browser.new_context(locale="en-US")
    page = visitor_ctx.new_page()
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    frame = open_widget(page)
    frame.locator("#input").fill("Hello")  # the visitor's socket opens when they write
    frame.locator("#input").press("Enter")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    expect(frame.locator("#site-name")).to_have_text("Live settings")

    admin_ctx = browser.new_context(locale="en-US", viewport={"width": 768, "height": 900})
    admin = operator_login(admin_ctx, demo.server_url, demo.email, demo.password)
    errors = ConsoleErrors(admin)
    admin.goto(f"{demo.server_url}/console/sites/{key}")
    hostile = "<img src=x onerror=alert(1)>Tea & Co"
    admin.locator("#fd-s-name").fill(hostile)
    admin.locator("#fd-s-greeting-default").fill("Hi! <b>Ask</b> us anything")
    admin.locator("#fd-s-placeholder-default").fill("Your question about tea")
    admin.locator("#fd-s-color").evaluate("(e) => { e.value = '#0f766e'; }")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".fd-notice")).to_contain_text("Saved", timeout=TIMEOUT)
    expect(admin.locator("h1")).to_contain_text(hostile)

    # The open widget, without a reload of the host page.
    expect(frame.locator("#site-name")).to_have_text(hostile, timeout=TIMEOUT)
    expect(frame.locator("#messages li.msg.op .bubble").first).to_have_text("Hi! <b>Ask</b> us anything")
    expect(frame.locator("#input")).to_have_attribute("placeholder", "Your question about tea")
    assert frame.locator("html").evaluate("e => getComputedStyle(e).getPropertyValue('--fd').trim()") == "#0f766e"
    assert frame.locator("img").count() == 0
    screenshot(page, "admin-settings-reached-widget")

    # A mistake is named at its field and nothing changes.
    admin.locator("#fd-s-origins").fill("https://ok.example.com\nnot an origin")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator("#fd-err-allowed_origins")).to_contain_text("not an origin")
    expect(admin.locator("#fd-s-origins")).to_have_attribute("aria-invalid", "true")
    expect(frame.locator("#site-name")).to_have_text(hostile)
    # The refused form comes back as HTTP 400, which Chromium logs; nothing else may be.
    assert not errors.dialogs and not [e for e in errors.errors if "status of 400" not in e], errors.errors
    visitor_ctx.close()
    admin_ctx.close()


@pytest.mark.parametrize("lang", list(LANGS))
def test_admin_pages_fit_every_width_in_every_language(browser: Any, demo: Demo, lang: str) -> None:
    ctx = browser.new_context(locale=lang)
    admin = operator_login(ctx, demo.server_url, demo.email, demo.password)
    admin.goto(demo.server_url + "/console/operators")
    expect(admin.locator("h1")).to_have_text(LANGS[lang])
    agent_href = admin.locator("#fd-operators a").first.get_attribute("href")
    pages = {"operators": "/console/operators", "operator": agent_href, "sites": "/console/sites",
             "site": f"/console/sites/{demo.site_key}", "faq": f"/console/faq?site={demo.site_key}"}
    for width in WIDTHS:
        admin.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            admin.goto(demo.server_url + str(path))
            expect(admin.locator("h1")).to_be_visible()
            fits(admin)
            if lang in ("en", "kk"):
                screenshot(admin, f"admin-{name}-{lang}-{width}")
            if lang == "ru" and width in (1280, 360):  # axe (WCAG 2.2 AA) once per page and layout
                assert not violations(admin), (name, width, violations(admin))
    ctx.close()


def test_site_settings_work_from_the_keyboard(browser: Any, demo: Demo, host_site: HostSite) -> None:
    key = demo.add_site(host_site.origin, "Keyboard site")
    ctx = browser.new_context(locale="uk-UA", viewport={"width": 360, "height": 740})
    admin = operator_login(ctx, demo.server_url, demo.email, demo.password)
    admin.goto(f"{demo.server_url}/console/sites/{key}")
    # From the skip link to the greeting field and on to Save, by Tab alone.
    admin.keyboard.press("Tab")
    expect(admin.locator(".fd-skip")).to_be_focused()
    admin.keyboard.press("Enter")
    for _ in range(80):
        admin.keyboard.press("Tab")
        if admin.evaluate("() => document.activeElement.id") == "fd-s-greeting-uk":
            break
    expect(admin.locator("#fd-s-greeting-uk")).to_be_focused()
    admin.keyboard.type("Вітаємо! Чим допомогти?")
    for _ in range(40):
        admin.keyboard.press("Tab")
        if admin.evaluate("() => document.activeElement.type") == "submit" and admin.evaluate(
                "() => document.activeElement.closest('form').action").endswith(key):
            break
    admin.keyboard.press("Enter")
    expect(admin.locator(".fd-notice")).to_contain_text("Збережено", timeout=TIMEOUT)
    expect(admin.locator("#fd-s-greeting-uk")).to_have_value("Вітаємо! Чим допомогти?")
    ctx.close()
