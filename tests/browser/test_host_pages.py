"""The host page cannot break the widget, and the widget cannot break the host page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.helpers import (
    TIMEOUT,
    ConsoleErrors,
    launcher,
    open_widget,
    operator_conversations,
    panel,
    visitor_says,
)

# Sums layout-shift entries from the start of the page (buffered), as CLS does.
CLS_PROBE = """
window.__cls = 0;
new PerformanceObserver(function (list) {
  var entries = list.getEntries();
  for (var i = 0; i < entries.length; i++) { if (!entries[i].hadRecentInput) window.__cls += entries[i].value; }
}).observe({type: 'layout-shift', buffered: true});
"""


@pytest.fixture(scope="module")
def host_key(demo: Demo, host_site: HostSite) -> str:
    return demo.add_site(host_site.origin)


@pytest.mark.parametrize("fixture", ["plain", "aggressive-css", "builtins", "strict-csp"])
def test_widget_works_on_a_hostile_page(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str, fixture: str
) -> None:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.add_init_script(CLS_PROBE) if fixture != "builtins" else None
    page.goto(f"{host_site.origin}/{fixture}.html?key={host_key}")
    before = page.locator("#para").bounding_box()

    button = launcher(page)
    expect(button).to_be_visible(timeout=TIMEOUT)
    box = button.bounding_box()
    assert box is not None and 50 <= box["width"] <= 60 and 50 <= box["height"] <= 60, box
    assert box["x"] > 1280 - 100 and box["y"] > 720 - 100, f"launcher not in the bottom corner: {box}"
    page.wait_for_load_state("load")

    frame = open_widget(page)
    visitor_says(frame, f"hello from {fixture}")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    iframe_box = page.locator("frontdesk-widget iframe").bounding_box()
    assert iframe_box is not None and iframe_box["width"] >= 300 and iframe_box["height"] >= 400, iframe_box
    screenshot(page, f"host-{fixture}")

    assert page.locator("#para").bounding_box() == before, "the host page moved"
    if fixture != "builtins":
        assert page.evaluate("window.__cls") == 0
    else:
        # The loader did not go through the page's fetch (read outside the page's broken realm).
        assert page.locator("html").get_attribute("data-fetch-calls") is None
    assert errors.errors == [], errors.errors
    ctx.close()


def test_queued_api_calls_before_the_loader(browser: Any, demo: Demo, host_site: HostSite, host_key: str) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host_site.origin}/api-queue.html?key={host_key}")
    frame = panel(page)  # Frontdesk('open') was queued: the panel opens by itself
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    visitor_says(frame, "queued hello")
    page.wait_for_function("window.seenMessages.indexOf('queued hello') >= 0", timeout=TIMEOUT)
    assert errors.errors == []

    console_ctx = browser.new_context(locale="en-US")
    from tests.browser.helpers import operator_login

    console = operator_login(console_ctx, demo.server_url, demo.email, demo.password)
    item = console.locator("#fd-conv-list button.fd-conv-item", has_text="queued hello")
    expect(item.locator(".fd-conv-name")).to_have_text("Queued Quinn", timeout=TIMEOUT)
    ctx.close()
    console_ctx.close()


def test_identify_keeps_valid_fields_and_tells_the_page_what_it_refused(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str
) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{host_site.origin}/identify.html?key={host_key}")

    # The callback hears what was stored and what was refused, and why.
    page.wait_for_function("window.identified.length === 1", timeout=TIMEOUT)
    result = page.evaluate("window.identified[0]")
    assert sorted(result["accepted"]) == ["email", "name"], result
    assert list(result["refused"]) == ["phone"] and result["refused"]["phone"]["code"] == "invalid", result
    assert "phone number" in result["refused"]["phone"]["message"]
    # The site's developer sees it in the console too.
    assert any("Frontdesk" in w and "phone" in w and "invalid" in w for w in warnings), warnings

    # What no store can hold (a lone surrogate) and what the chat does not keep are
    # refused by name; the widget stays connected (no reconnect loop).
    page.evaluate(
        """() => Frontdesk('identify', {name: '\\ud800', company: 'Acme', phone: '+7 701 123 45 67'},
                           function (r) { window.identified.push(r); })"""
    )
    page.wait_for_function("window.identified.length === 2", timeout=TIMEOUT)
    result = page.evaluate("window.identified[1]")
    assert result["accepted"] == ["phone"], result
    assert sorted(result["refused"]) == ["company", "name"], result
    assert result["refused"]["company"]["code"] == "unknown_field"
    assert any("company" in w for w in warnings), warnings

    frame = open_widget(page)
    visitor_says(frame, "identified on the host page")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.wait_for_timeout(500)
    assert len(sockets) == 1, sockets

    visitor = next(
        c["visitor"] for c in operator_conversations(demo.server_url, demo.email, demo.password)
        if c["last_message_preview"] == "identified on the host page"
    )
    assert (visitor["name"], visitor["email"], visitor["phone"]) == ("Bob", "bob@example.com", "+77011234567")
    ctx.close()


@pytest.mark.parametrize("server_does", ["error", "close"])
def test_a_refused_identify_is_reported_and_never_loops(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str, server_does: str
) -> None:
    """The server answers an identify with an error frame (or its socket dies on it): the
    page is told, and the widget neither re-sends it for ever nor reconnects in a loop."""
    import json

    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    warnings: list[str] = []
    page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    sockets: list[str] = []
    identifies: list[str] = []

    def between(ws: Any) -> None:  # a man in the middle of the visitor socket
        sockets.append(ws.url)
        server = ws.connect_to_server()

        def from_panel(message: Any) -> None:
            frame = json.loads(message)
            if frame["type"] != "visitor.identify":
                server.send(message)
            elif server_does == "error":
                identifies.append(frame["id"])
                ws.send(json.dumps({"type": "error", "code": "bad_frame", "message": "Not understood.", "id": frame["id"]}))
            else:
                identifies.append(frame["id"])
                ws.close()

        ws.on_message(from_panel)
        server.on_message(lambda message: ws.send(message))

    page.route_web_socket("**/ws/visitor*", between)
    page.goto(f"{host_site.origin}/identify.html?key={host_key}")
    page.wait_for_function("window.identified.length === 1", timeout=3 * TIMEOUT)
    result = page.evaluate("window.identified[0]")
    assert result["accepted"] == [] and sorted(result["refused"]) == ["email", "name", "phone"], result
    code = "bad_frame" if server_does == "error" else "no_answer"
    assert all(r["code"] == code for r in result["refused"].values()), result
    assert any("Frontdesk" in w and code in w for w in warnings), warnings

    frame = open_widget(page)
    visitor_says(frame, f"after a refused identify ({server_does})")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    print(f"{server_does}: {len(sockets)} sockets, identify sent {len(identifies)} times")
    if server_does == "error":
        assert len(sockets) == 1 and len(identifies) == 1, (sockets, identifies)
    else:
        assert len(identifies) == 3 and len(sockets) == 4, (sockets, identifies)
    ctx.close()


def test_a_site_that_is_not_allowed_gets_no_widget(browser: Any, demo: Demo, host_site: HostSite, host_key: str) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    # Same page and key, served from an origin the site did not allow.
    wrong = f"http://localhost:{host_site.port}"
    page.goto(f"{wrong}/plain.html?key={host_key}")
    page.wait_for_function("document.readyState === 'complete'")
    expect(page.locator("frontdesk-widget")).to_have_count(0)
    page.wait_for_timeout(300)  # let the loader's config call come back
    assert any("Frontdesk:" in e and "not allowed" in e for e in errors.errors), errors.errors

    # Framing the panel directly is refused by the browser (frame-ancestors).
    page.evaluate(
        "url => { var f = document.createElement('iframe'); f.id = 'sneaky'; f.src = url; document.body.appendChild(f); }",
        f"{demo.server_url}/widget/panel.html?site={host_key}&origin={wrong}",
    )
    page.wait_for_timeout(500)
    sneaky = page.frame_locator("#sneaky")
    expect(sneaky.locator("#input")).to_have_count(0)
    assert any("frame-ancestors" in e for e in errors.errors), errors.errors
    ctx.close()


def test_unknown_site_key_is_reported_once(browser: Any, demo: Demo, host_site: HostSite) -> None:
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host_site.origin}/plain.html?key=fd_doesnotexist")
    page.wait_for_function("document.readyState === 'complete'")
    page.wait_for_timeout(300)
    expect(page.locator("frontdesk-widget")).to_have_count(0)
    ours = [e for e in errors.errors if e.startswith("Frontdesk:")]
    assert len(ours) == 1 and "site" in ours[0].lower(), errors.errors
    ctx.close()
