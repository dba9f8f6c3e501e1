"""Size budgets of what the visitor's browser loads, and the bytes it really receives.

    python bench/sizes.py          the files: raw, gzip -9 and brotli 11 (as the server
                                   sends them); exits 1 when a budget is exceeded
    python bench/sizes.py --wire   a real server and Chromium: bytes on the wire (headers +
                                   bodies, as the browser's network stack counts them) for a
                                   first visit, a return visit, and opening the chat

embed.js is on every page of every customer site, so it must stay tiny; the panel set is
what opening the chat loads. The budgets are counted in gzip (what every browser takes; the
server sends brotli when the browser takes it, smaller still). A CI check, in the manner of
Plausible's tracker/report-sizes.js and emoji-picker-element's bin/bundlesize.js.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (files, gzip budget in bytes)
BUDGETS: dict[str, tuple[list[str], int]] = {
    # 2 KB until the widget's accessibility work (issue 21): the phone's scroll lock and
    # visual-viewport fit cost ~110 bytes after the badge moved to the panel (docs/benchmarks.md).
    "embed.js": (["embed.js"], 2304),
    "panel (html+js+css+en.json)": (
        [
            "widget/panel.html", "widget/plural.js", "widget/prechat.js", "widget/panel.js", "widget/faq.js",
            "widget/contact.js", "widget/callback.js", "widget/panel.css", "widget/i18n/en.json",
        ],
        40960,
    ),
}


def gzip_size(data: bytes) -> int:
    # mtime=0: the same bytes give the same size on every run.
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def brotli_size(data: bytes) -> int | None:
    try:
        import brotli
    except ImportError:  # the budget check runs without the app's dependencies too
        return None
    return len(brotli.compress(data, quality=11, mode=brotli.MODE_TEXT))


def files_report() -> int:
    failed = False
    print(f"{'':34} {'raw':>8} {'gzip':>8} {'brotli':>8} {'budget':>8}")
    for name, (files, budget) in BUDGETS.items():
        raw = gz = br = 0
        for file in files:
            data = (ROOT / file).read_bytes()
            one_br = brotli_size(data) or 0
            raw += len(data)
            gz += gzip_size(data)  # each file is its own response
            br += one_br
            if len(files) > 1:
                print(f"  {file:32} {len(data):8} {gzip_size(data):8} {one_br:8}")
        over = gz > budget
        failed |= over
        print(f"{name:34} {raw:8} {gz:8} {br:8} {budget:8}  {'OVER BUDGET' if over else 'ok'}")
    return 1 if failed else 0


# ---- --wire: a real `frontdesk demo` and Chromium


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, deadline: float) -> None:
    import urllib.request

    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer")
            time.sleep(0.1)


class Wire:
    """Every response the page and its frames get from ``origin``, through Chrome DevTools:
    bytes received (``encodedDataLength``: headers and the body as sent, compressed) and
    whether the cache answered instead of the network."""

    def __init__(self, page: object, origin: str) -> None:
        self.origin = origin
        self.rows: dict[str, dict[str, object]] = {}
        cdp = page.context.new_cdp_session(page)  # type: ignore[attr-defined]
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._cached)
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.responseReceivedExtraInfo", self._raw_status)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketCreated", self._socket)

    def _sent(self, e: dict) -> None:
        url = e["request"]["url"]
        if url.startswith(self.origin):
            self.rows[e["requestId"]] = {"url": url[len(self.origin):], "bytes": 0, "cached": False, "status": 0}

    def _cached(self, e: dict) -> None:
        if e["requestId"] in self.rows:
            self.rows[e["requestId"]]["cached"] = True

    def _received(self, e: dict) -> None:
        row = self.rows.get(e["requestId"])
        if row is not None:
            row["status"] = e["response"]["status"]
            row["cached"] = row["cached"] or e["response"].get("fromDiskCache") or e["response"].get("fromPrefetchCache")
            row["encoding"] = {k.lower(): v for k, v in e["response"]["headers"].items()}.get("content-encoding", "")

    def _raw_status(self, e: dict) -> None:
        # What came over the wire: a 304 shows as its cached 200 in responseReceived.
        if e["requestId"] in self.rows and e.get("statusCode") == 304:
            self.rows[e["requestId"]]["revalidated"] = True

    def _finished(self, e: dict) -> None:
        if e["requestId"] in self.rows:
            self.rows[e["requestId"]]["bytes"] = int(e["encodedDataLength"])

    def _socket(self, e: dict) -> None:
        if e["url"].startswith(self.origin.replace("http", "ws")):
            # DevTools counts no bytes for a socket: its frames are the chat itself.
            self.rows[e["requestId"]] = {"url": "(websocket)", "bytes": 0, "cached": False, "status": 101}

    def report(self, title: str) -> int:
        rows = list(self.rows.values())
        total = sum(int(r["bytes"]) for r in rows)
        asked = sum(1 for r in rows if not r["cached"])
        print(f"\n{title}: {total} bytes received, {asked} requests to the network, "
              f"{len(rows) - asked} answered by the cache")
        for r in rows:
            url = re.sub(r"\?.*", "?…", str(r["url"]))
            coding = "" if r.get("revalidated") else r.get("encoding") or ""
            status = 304 if r.get("revalidated") else r["status"]
            where = "cache" if r["cached"] else f"{status} {coding}".strip()
            print(f"  {url:52} {where:10} {r['bytes']:8}")
        return total


def revalidation_bytes(port: int) -> int:
    """The size of embed.js's 304 as received: status line, headers, blank line."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/embed.js", headers={"Accept-Encoding": "br, gzip"})
    first = conn.getresponse()
    first.read()
    conn.request("GET", "/embed.js", headers={"Accept-Encoding": "br, gzip", "If-None-Match": first.getheader("etag")})
    again = conn.getresponse()
    again.read()
    conn.close()
    assert again.status == 304, again.status
    return len(b"HTTP/1.1 304 Not Modified\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in again.getheaders()) + 2


def wire_report() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port, demo_port = free_port(), free_port()
        env = {**os.environ, "FRONTDESK_LOG_LEVEL": "warning", "FRONTDESK_SECRET_KEY": "bench-sizes"}
        server = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "demo", "--port", str(port), "--demo-port", str(demo_port),
             "--data-dir", tmp, "--operator-password", "bench-sizes-password"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        origin, demo = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{demo_port}/"
        try:
            deadline = time.monotonic() + 30
            wait_for(origin + "/healthz", deadline)
            wait_for(demo, deadline)
            with sync_playwright() as p:
                chromium = "/usr/bin/chromium"
                browser = p.chromium.launch(executable_path=chromium if Path(chromium).exists() else None)
                context = browser.new_context(locale="en-US")

                def visit(title: str, open_chat: bool = False) -> int:
                    page = context.new_page()
                    wire = Wire(page, origin)
                    page.goto(demo, wait_until="load")
                    # The panel loads when the browser is idle: wait for it to say "ready".
                    frame = page.frame_locator("frontdesk-widget iframe")
                    frame.locator("#site-name").wait_for(state="attached", timeout=15000)
                    page.wait_for_function(
                        "() => { const f = document.querySelector('frontdesk-widget').shadowRoot"
                        ".querySelector('iframe'); return f && f.style.visibility === 'hidden'; }"
                    )
                    page.wait_for_timeout(1000)
                    if open_chat:
                        page.locator("frontdesk-widget").locator("button").click()
                        frame.locator("#input").fill("Hello from the size benchmark")
                        frame.locator("#input").press("Enter")
                        frame.locator("li.msg.me .meta", has_text="Sent").wait_for(timeout=15000)
                    total = wire.report(title)
                    page.close()
                    return total

                first = visit("First visit (page view; the panel loads when idle)")
                again = visit("Return visit (same browser, within embed.js's 5 minutes)")
                visit("Return visit, opening the chat and sending a message", open_chat=True)
                print(f"\nfirst visit {first} bytes, return visit {again} bytes; after embed.js's 5 minutes, "
                      f"its revalidation adds {revalidation_bytes(port)} bytes (a 304: status line and headers)")
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wire", action="store_true", help="measure bytes on the wire in Chromium")
    args = parser.parse_args()
    failed = files_report()
    if args.wire:
        wire_report()
    return failed


if __name__ == "__main__":
    sys.exit(main())
