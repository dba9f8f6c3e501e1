"""The demo looks like its own website: its name, its brand colour, readable text on it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, screenshot
from tests.browser.helpers import TIMEOUT, launcher, open_widget

BRAND = "rgb(160, 86, 26)"  # #a0561a, the demo page's own buttons
WHITE = "rgb(255, 255, 255)"


@pytest.mark.parametrize("width", [360, 1280])
def test_the_widget_wears_the_demo_sites_colours(browser: Any, demo: Demo, width: int) -> None:
    ctx = browser.new_context(locale="en-US", viewport={"width": width, "height": 720})
    page = ctx.new_page()
    page.goto(demo.demo_url + "/")
    button = launcher(page)
    expect(button).to_be_visible(timeout=TIMEOUT)
    page_button = page.locator("button.cta").evaluate("e => getComputedStyle(e).backgroundColor")
    assert button.evaluate("e => getComputedStyle(e).backgroundColor") == BRAND == page_button
    # The launcher's icon: white on this brown has a contrast of 5.5:1.
    assert button.locator("svg").evaluate("e => getComputedStyle(e).fill") == WHITE
    screenshot(page, f"demo-launcher-{width}")

    frame = open_widget(page)
    head = frame.locator(".head")
    expect(frame.locator("#status-text")).not_to_have_text("Connecting…", timeout=TIMEOUT)
    assert head.evaluate("e => getComputedStyle(e).backgroundColor") == BRAND
    assert head.evaluate("e => getComputedStyle(e).color") == WHITE
    expect(frame.locator("#site-name")).to_have_text("Aurora Coffee Roasters")
    # No promise of a quick answer next to "We're offline".
    expect(frame.locator("#thread")).not_to_contain_text("within minutes")
    if frame.locator("#status-text").text_content() == "Offline":
        expect(frame.locator("#notice")).to_have_text("We're offline — leave a message and we'll reply here")
    screenshot(page, f"demo-widget-{width}")
    ctx.close()
