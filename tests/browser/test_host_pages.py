"""The host page cannot break the widget, and the widget cannot break the host page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Demo, HostSite, screenshot
from tests.browser.test_real_sites import _panel_frame, _visitors
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


# Records every CSP violation in each document (the host page and the panel's frame alike).
VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""


@pytest.mark.parametrize("fixture", ["strict-csp", "nonce-csp", "trusted-types"])
def test_no_csp_violation_under_allow_list_nonce_or_trusted_types_policies(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str, fixture: str
) -> None:
    """The allow-list policy, a nonce with 'strict-dynamic' (the snippet carries the page's
    nonce; the loader adds no script or style element, only an iframe and CSSOM styles), and
    Trusted Types enforced with no policy allowed: the widget works and nothing is reported."""
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.add_init_script(VIOLATIONS)
    errors = ConsoleErrors(page)
    response = page.goto(f"{host_site.origin}/{fixture}.html?key={host_key}")
    assert response is not None and "script-src" in response.headers["content-security-policy"]
    frame = open_widget(page)
    visitor_says(frame, f"hello under {fixture}")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    page.locator("frontdesk-widget").get_by_role("button").click()  # closed again: the launcher's path back
    expect(frame.locator("#input")).to_be_hidden(timeout=TIMEOUT)
    assert page.evaluate("window.__violations") == []
    panel_frame = next(f for f in page.frames if "/widget/panel.html" in f.url)
    assert panel_frame.evaluate("window.__violations") == []
    assert errors.errors == [], errors.errors
    ctx.close()


def test_a_snippet_without_the_pages_nonce_is_blocked(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str
) -> None:
    """What the README's nonce advice prevents: under 'strict-dynamic' the browser ignores the
    allow-listed Frontdesk origin, so a tag without the nonce never runs."""
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.add_init_script(VIOLATIONS)
    page.goto(f"{host_site.origin}/nonce-csp-forgotten.html?key={host_key}")
    page.wait_for_function("window.__violations.length > 0", timeout=TIMEOUT)
    assert any(v.startswith("script-src") and "/embed.js" in v for v in page.evaluate("window.__violations"))
    expect(page.locator("frontdesk-widget")).to_have_count(0)
    ctx.close()


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 800}])
def test_the_open_panel_is_above_a_consent_box_at_the_top_z_index(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str, viewport: dict[str, int]
) -> None:
    ctx = browser.new_context(locale="en-US", viewport=viewport, has_touch=viewport["width"] < 480)
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    page.goto(f"{host_site.origin}/consent-box.html?key={host_key}")
    expect(page.locator("#cc-main")).to_be_visible(timeout=TIMEOUT)
    button = launcher(page)
    expect(button).to_be_attached(timeout=TIMEOUT)
    # Closed, the launcher stays below the page's consent box (the visitor answers it first).
    box = button.bounding_box()
    assert box is not None
    on_top = "([x, y]) => { var e = document.elementFromPoint(x, y); return e && (e.id || e.closest('[id]') && e.closest('[id]').id || e.tagName); }"
    assert page.evaluate(on_top, [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]) == "cc-main"

    # The page's own "chat with us" link opens the panel: it is on top, its input usable.
    page.locator("#chat-link").click()
    frame = panel(page)
    expect(frame.locator("#input")).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(300)  # the panel's placement settles (visual viewport on a phone)
    field = frame.locator("#input").bounding_box()
    assert field is not None and field["y"] + field["height"] <= viewport["height"], field
    for dx, dy in [(0.5, 0.5), (0.1, 0.5), (0.9, 0.5)]:
        point = [field["x"] + field["width"] * dx, field["y"] + field["height"] * dy]
        assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", point) == "FRONTDESK-WIDGET", point
    visitor_says(frame, f"typed beside a consent box at {viewport['width']} px")
    frame.locator("#input").click()  # Playwright's hit test: nothing covers it
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    screenshot(page, f"consent-box-open-{viewport['width']}")

    # Closed again, the consent box is the page's to use: its button is clickable.
    frame.locator("#close").click()
    expect(frame.locator("#input")).to_be_hidden(timeout=TIMEOUT)
    page.locator("#cc-accept").click()
    assert page.evaluate("window.ccAccepted") is True
    assert errors.errors == [], errors.errors
    ctx.close()


class FrontdeskTraffic:
    """What the page asks of the Frontdesk server: requests (path only) and websockets."""

    def __init__(self, page: Any, server_url: str) -> None:
        self.requests: list[str] = []
        self.sockets: list[str] = []
        page.on("request", lambda r: r.url.startswith(server_url) and self.requests.append(
            r.url[len(server_url):].split("?")[0]))
        page.on("websocket", lambda ws: self.sockets.append(ws.url))


def _fd_storage(page: Any) -> list[str]:
    return _panel_frame(page).evaluate("Object.keys(localStorage).filter(function (k) { return k.indexOf('fd:') === 0; })")


def test_consent_required_on_the_tag_nothing_before_consent(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str
) -> None:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    traffic = FrontdeskTraffic(page, demo.server_url)
    before = _visitors(demo, host_key)
    page.goto(f"{host_site.origin}/consent-required.html?key={host_key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    launcher(page).hover()  # would warm the panel up without consent mode
    launcher(page).focus()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)  # past the idle callback that loads the panel otherwise
    # The loader and the launcher's looks; no panel, no storage, no socket, no visitor.
    assert traffic.requests == ["/embed.js", f"/api/widget/v1/sites/{host_key}/config"], traffic.requests
    expect(page.locator("frontdesk-widget iframe")).to_have_count(0)
    assert traffic.sockets == [] and _visitors(demo, host_key) == before
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0 and ctx.cookies() == []

    # The page's consent manager reports consent: the panel loads as on any page (still no
    # visitor nor socket for a page view alone).
    page.evaluate("Frontdesk('consent', true)")
    expect(panel(page).locator("#site-name")).to_have_text("Hostile host", timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    assert traffic.sockets == [] and _visitors(demo, host_key) == before and _fd_storage(page) == []

    frame = open_widget(page)
    visitor_says(frame, "after consent")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    assert _fd_storage(page) != [] and _visitors(demo, host_key) == before + 1

    # Consent withdrawn: what the widget stored is gone, and nothing more is stored; the
    # chat on this page goes on.
    page.evaluate("Frontdesk('consent', false)")
    page.wait_for_timeout(300)  # the message reaches the panel
    assert _fd_storage(page) == []
    visitor_says(frame, "after withdrawing consent")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    assert _fd_storage(page) == []
    assert errors.errors == [], errors.errors
    ctx.close()


def test_consent_required_by_the_site_opening_the_chat_is_consent(
    browser: Any, demo: Demo, host_site: HostSite
) -> None:
    key = demo.add_site(host_site.origin, "Consent first", "--consent-required")
    ctx = browser.new_context(locale="en-US", viewport={"width": 360, "height": 740}, has_touch=True)
    page = ctx.new_page()
    errors = ConsoleErrors(page)
    traffic = FrontdeskTraffic(page, demo.server_url)
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    expect(launcher(page)).to_be_visible(timeout=TIMEOUT)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)
    expect(page.locator("frontdesk-widget iframe")).to_have_count(0)
    assert traffic.sockets == [] and _visitors(demo, key) == 0

    frame = open_widget(page)  # the visitor's own act
    visitor_says(frame, "I opened the chat myself")
    expect(frame.locator("#thread li.msg.me .meta").last).to_contain_text("Sent", timeout=TIMEOUT)
    assert _visitors(demo, key) == 1 and len(traffic.sockets) == 1
    ctx.close()

    # Consent given before the loader ran (queued, as consent managers often do): the
    # panel loads when idle, as on a site without consent mode.
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    page.add_init_script(
        "window.Frontdesk = function () { (Frontdesk.q = Frontdesk.q || []).push(arguments); };"
        "Frontdesk('consent', true);"
    )
    page.goto(f"{host_site.origin}/plain.html?key={key}")
    expect(panel(page).locator("#site-name")).to_have_text("Consent first", timeout=TIMEOUT)
    assert errors.errors == [], errors.errors
    ctx.close()


class Network:
    """Each request the page (and its same-site frames) sends to ``origin``, through DevTools:
    its path, its status as sent over the wire, its coding, and whether the cache answered."""

    def __init__(self, page: Any, origin: str) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")

        def sent(e: dict[str, Any]) -> None:
            if e["request"]["url"].startswith(origin):
                self.rows[e["requestId"]] = {"path": e["request"]["url"][len(origin):].split("?")[0], "cache": False}

        def row(e: dict[str, Any]) -> dict[str, Any]:
            return self.rows.get(e["requestId"], {})

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.requestServedFromCache", lambda e: row(e).update(cache=True))
        cdp.on("Network.responseReceived", lambda e: row(e).update(
            cache=row(e).get("cache") or e["response"].get("fromDiskCache"),
            coding={k.lower(): v for k, v in e["response"]["headers"].items()}.get("content-encoding")))
        cdp.on("Network.responseReceivedExtraInfo", lambda e: row(e).update(status=e["statusCode"]))

    def fetched(self) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if not r["cache"]]


def test_a_return_visit_fetches_no_widget_file_again(
    browser: Any, demo: Demo, host_site: HostSite, host_key: str
) -> None:
    """Issue 19: the widget's files go out compressed and, named by their content, are kept
    by the browser; a returning visitor asks only for what can change (revalidated)."""
    ctx = browser.new_context(locale="en-US")
    config = f"/api/widget/v1/sites/{host_key}/config"

    def visit() -> list[dict[str, Any]]:
        page = ctx.new_page()
        network = Network(page, demo.server_url)
        page.goto(f"{host_site.origin}/plain.html?key={host_key}")
        expect(panel(page).locator("#site-name")).to_have_text("Hostile host", timeout=TIMEOUT)
        page.wait_for_load_state("networkidle")
        page.close()
        return network.fetched()

    first = visit()
    files = [r for r in first if r["path"].endswith((".js", ".css", ".json")) or r["path"].endswith(".html")]
    assert len(files) >= 6, first  # embed.js, panel.html, its script, style and catalogue files
    assert all(r["coding"] == "br" for r in files), files
    assert any(r["path"].startswith("/widget/i18n/en.") for r in files), files

    again = visit()
    assert sorted(r["path"] for r in again) == sorted([config, config, "/widget/panel.html"]), again
    assert next(r for r in again if r["path"] == "/widget/panel.html")["status"] == 304
    ctx.close()
