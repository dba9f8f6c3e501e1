"""What a person does in the widget and the console, as Playwright steps."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, FrameLocator, Page, expect

TIMEOUT = 10_000


class ConsoleErrors:
    """Collects console errors, page errors and dialogs (an XSS would open one)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)


def launcher(page: Page) -> Any:
    return page.locator("frontdesk-widget").get_by_role("button")


def panel(page: Page) -> FrameLocator:
    return page.frame_locator('frontdesk-widget iframe[title="Chat"]')


def open_widget(page: Page) -> FrameLocator:
    button = launcher(page)
    expect(button).to_be_visible(timeout=TIMEOUT)
    button.click()
    frame = panel(page)
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    return frame


def visitor_says(frame: FrameLocator, text: str) -> None:
    frame.locator("#input").fill(text)
    frame.locator("#input").press("Enter")


def visitor_thread(frame: FrameLocator) -> Any:
    return frame.locator("#thread li.msg .bubble")


def operator_login(context: BrowserContext, server_url: str, email: str, password: str) -> Page:
    page = context.new_page()
    page.goto(server_url + "/console/login")
    page.locator("#fd-login-email").fill(email)
    page.locator("#fd-login-password").fill(password)
    page.locator("form.fd-login-form button[type=submit]").click()
    expect(page).to_have_url(server_url + "/console/", timeout=TIMEOUT)
    expect(page.locator("#fd-conn")).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    return page


def open_conversation(console: Page, preview: str) -> None:
    item = console.locator("#fd-conv-list button.fd-conv-item", has_text=preview)
    expect(item).to_be_visible(timeout=TIMEOUT)
    item.click()


def operator_says(console: Page, text: str) -> None:
    console.locator("#fd-reply").fill(text)
    console.locator("#fd-reply").press("Enter")


def console_thread(console: Page) -> Any:
    return console.locator("#fd-thread .fd-msg-body")


def operator_conversations(server_url: str, email: str, password: str) -> list[dict[str, Any]]:
    """What the console API gives a logged-in operator: conversation summaries, newest first."""
    with httpx.Client(base_url=server_url, timeout=TIMEOUT / 1000) as http:
        form = http.get("/console/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf, "login form has no CSRF token"
        login = http.post("/console/login", data={"email": email, "password": password, "csrf_token": csrf.group(1)})
        assert login.status_code == 303, login.text
        return http.get("/api/console/v1/conversations").json()["conversations"]  # type: ignore[no-any-return]
