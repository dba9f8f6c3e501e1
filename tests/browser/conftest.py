"""Browser fixtures: Chromium through Playwright, `frontdesk demo` as a user starts it,
and a host-page server (another origin) for the hostile-page fixtures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn
from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.servers import Killable, free_port, wait_for_http

FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = Path(os.environ.get("FRONTDESK_SCREENSHOTS", "test-screenshots"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
OPERATOR_PASSWORD = "demo-password-123"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        options: dict[str, Any] = {"headless": True, "args": CHROMIUM_ARGS}
        if Path(CHROMIUM).exists():
            options["executable_path"] = CHROMIUM
        b = p.chromium.launch(**options)
        yield b
        b.close()


@dataclass
class Demo(Killable):
    """A running `frontdesk demo`: server, demo website, operator login."""

    data_dir: Path
    port: int
    demo_port: int
    process: subprocess.Popen[bytes] | None = None
    site_key: str = ""

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def demo_url(self) -> str:
        return f"http://127.0.0.1:{self.demo_port}"

    email = "operator@example.com"
    password = OPERATOR_PASSWORD

    def start(self) -> "Demo":
        log = open(self.data_dir / "demo.log", "ab")
        env = {**os.environ, "FRONTDESK_LOG_LEVEL": "warning", "FRONTDESK_SECRET_KEY": "browser-tests",
               # Every browser context is a new visitor from 127.0.0.1.
               "FRONTDESK_NEW_VISITORS_PER_IP_PER_MINUTE": "100000"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "demo", "--port", str(self.port), "--demo-port", str(self.demo_port),
             "--data-dir", str(self.data_dir), "--operator-password", self.password],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_http(self.server_url + "/healthz", process=self.process)
            wait_for_http(self.demo_url + "/", process=self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{(self.data_dir / 'demo.log').read_text()[-3000:]}") from None
        page = httpx.get(self.demo_url + "/").text
        match = re.search(r'data-site-key="([^"]+)"', page)
        assert match, "the demo page has no snippet"
        self.site_key = match.group(1)
        return self

    def add_site(self, origin: str, name: str = "Hostile host", *options: str) -> str:
        """A site allowed on ``origin``, made the way an admin does; returns its key."""
        out = subprocess.run(
            [sys.executable, "-m", "server.cli", "create-site", name, "--origin", origin,
             "--data-dir", str(self.data_dir), *options],
            capture_output=True, text=True, check=True,
        ).stdout
        match = re.search(r"^key: (\S+)$", out, re.M)
        assert match, out
        return match.group(1)


def new_demo(tmp: Path) -> Demo:
    return Demo(data_dir=tmp, port=free_port(), demo_port=free_port()).start()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = new_demo(tmp_path_factory.mktemp("demo"))
    yield d
    d.stop()


class HostSite:
    """Serves tests/browser/fixtures/*.html (Jinja) on its own origin, in a thread."""

    def __init__(self, frontdesk_url: str) -> None:
        self.port = free_port()
        self.frontdesk_url = frontdesk_url
        self.site_keys: dict[str, str] = {}
        env = Environment(loader=FileSystemLoader(str(FIXTURES)), autoescape=True)

        async def page(request: Request) -> HTMLResponse:
            name = request.path_params["name"]
            template = env.get_template(name)
            key = request.query_params.get("key", "")
            headers = {}
            # A fixture may declare its page's policy: {% set csp = "... FRONTDESK ..." %}
            csp = getattr(template.make_module({"frontdesk_url": frontdesk_url, "site_key": key}), "csp", None)
            if csp:
                headers["Content-Security-Policy"] = csp.replace("FRONTDESK", frontdesk_url)
            return HTMLResponse(template.render(frontdesk_url=frontdesk_url, site_key=key), headers=headers)

        async def favicon(request: Request) -> Response:
            return Response(status_code=204)

        app = Starlette(routes=[Route("/favicon.ico", favicon), Route("/{name}", page)])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "HostSite":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("host site did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="session")
def host_site(demo: Demo) -> Iterator[HostSite]:
    h = HostSite(demo.server_url).start()
    yield h
    h.stop()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
