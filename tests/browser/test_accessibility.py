"""axe-core finds no accessibility violations in what visitors and operators use."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import Demo
from tests.browser.helpers import TIMEOUT, open_conversation, open_widget, operator_login, visitor_says


def _violations(page: Any) -> list[str]:
    result = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in result.response["violations"]]


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


def test_console_is_accessible(browser: Any, demo: Demo) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.goto(demo.server_url + "/console/login")
    assert _violations(page) == []
    console = operator_login(ctx, demo.server_url, demo.email, demo.password)
    visitor_ctx = browser.new_context(locale="en-US")
    visitor = visitor_ctx.new_page()
    visitor.goto(demo.demo_url + "/")
    frame = open_widget(visitor)
    visitor_says(frame, "accessibility check")  # typed at once: it waits in the outbox if need be
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    open_conversation(console, "accessibility check")
    assert _violations(console) == []
    console.goto(demo.server_url + "/console/sites")
    assert _violations(console) == []
    visitor_ctx.close()
    ctx.close()
