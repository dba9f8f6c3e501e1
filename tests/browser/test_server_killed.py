"""SIGKILL the server while the visitor is sending: every message arrives exactly once, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import new_demo, screenshot
from tests.browser.helpers import (
    TIMEOUT,
    console_thread,
    open_conversation,
    open_widget,
    operator_login,
    visitor_says,
)


def test_server_killed_mid_conversation(browser: Any, tmp_path: Path) -> None:
    demo = new_demo(tmp_path)
    try:
        ctx = browser.new_context(locale="en-US")
        page = ctx.new_page()
        page.goto(demo.demo_url + "/")
        frame = open_widget(page)
        for i in range(1, 4):
            visitor_says(frame, f"message {i}")
        expect(frame.locator("#thread li.msg.me .meta").nth(2)).to_contain_text("Sent", timeout=TIMEOUT)

        visitor_says(frame, "message 4")
        demo.kill()  # while message 4 is on its way
        for i in range(5, 8):
            visitor_says(frame, f"message {i}")  # typed while the server is down
        expect(frame.locator("#thread li.msg.me .meta").last).not_to_contain_text("Sent")
        screenshot(page, "killed-visitor-waiting")

        demo.start()  # same ports, same data
        mine = frame.locator("#thread li.msg.me")
        expect(mine.locator(".bubble")).to_have_text([f"message {i}" for i in range(1, 8)], timeout=30_000)
        for i in range(7):
            expect(mine.nth(i).locator(".meta")).to_contain_text("Sent", timeout=30_000)
        screenshot(page, "killed-visitor-recovered")

        # The operator sees each once, in order.
        console_ctx = browser.new_context(locale="en-US")
        console = operator_login(console_ctx, demo.server_url, demo.email, demo.password)
        open_conversation(console, "message 7")
        expect(console_thread(console)).to_have_text([f"message {i}" for i in range(1, 8)], timeout=TIMEOUT)

        # And after a reload the visitor's own history is the same: nothing doubled.
        page.reload()
        frame = open_widget(page)
        expect(frame.locator("#thread li.msg.me .bubble")).to_have_text(
            [f"message {i}" for i in range(1, 8)], timeout=TIMEOUT
        )
        ctx.close()
        console_ctx.close()
    finally:
        demo.stop()
