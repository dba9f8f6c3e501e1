"""A console that was away while 10,000 events were written catches up when it comes back."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playwright.sync_api import expect

from server.config import Settings
from tests.browser.conftest import Demo
from tests.browser.helpers import operator_login
from tests.factories import seed_conversation

MISSED = 10_000


def test_a_console_reconnecting_after_10000_events_catches_up(browser: Any, demo: Demo) -> None:
    context = browser.new_context(locale="en-US")
    # Lets the test cut the console's socket as a network drop would (frames go direct:
    # a Playwright websocket route relays each frame through the driver, ~10x slower).
    context.add_init_script(
        "window.__fdSockets = []; window.WebSocket = class extends window.WebSocket {"
        " constructor(...args) { super(...args); window.__fdSockets.push(this); } };"
    )
    console = operator_login(context, demo.server_url, demo.email, demo.password)

    # 10,000 events the console does not hear (another process writes them) …
    text = f"Catch-up {uuid.uuid4().hex[:8]}"
    settings = Settings.from_env({"FRONTDESK_DATA_DIR": str(demo.data_dir), "FRONTDESK_SECRET_KEY": "browser-tests"})
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, seed_conversation(settings, demo.site_key, MISSED, text=text)).result()
    newest = console.locator("#fd-conv-list button.fd-conv-item", has_text=f"{text} {MISSED}")
    expect(newest).to_have_count(0)

    # … then its network drops and comes back: it resumes after the last event it had.
    started = time.monotonic()
    console.evaluate("window.__fdSockets[window.__fdSockets.length - 1].close()")
    expect(newest).to_be_visible(timeout=90_000)
    expect(console.locator("#fd-conn")).to_have_attribute("data-state", "connected")
    print(f"\ncaught up on {MISSED} events in {time.monotonic() - started:.1f}s")
    context.close()
