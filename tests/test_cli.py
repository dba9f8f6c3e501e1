"""The `frontdesk` command as a newcomer meets it: each command's own options, one line
per mistake, ports already in use, and a demo that can be restarted without losing anything."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from server.cli import main
from tests.clients import console_login
from tests.servers import Killable, ServerProcess, free_port, wait_for_http


def frontdesk(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=timeout,
    )


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_code:
        main([command, "--help"])
    assert exit_code.value.code == 0
    return capsys.readouterr().out


def test_each_command_shows_only_the_options_it_uses(capsys: pytest.CaptureFixture[str]) -> None:
    demo = help_of("demo", capsys)
    serve = help_of("serve", capsys)
    create_site = help_of("create-site", capsys)
    for option in ("--host", "--port", "--data-dir", "--demo-port", "--operator-password"):
        assert option in demo, option
    for option in ("--workers", "--webhook-timeout-seconds", "--webhook-retry-seconds", "--webhook-concurrency",
                   "--webhook-allow-private-networks", "--worker-lease-seconds", "--redis-url", "--max-body-bytes"):
        assert option not in demo, option
        assert option in serve, option
    assert "--demo-port" not in serve and "--workers" not in create_site and "--allow-duplicate-name" in create_site


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "required: COMMAND"),
        (["launch"], "invalid choice: 'launch'"),
        (["serve", "--port", "eighty"], "--port: expected a whole number, got 'eighty'"),
        (["demo", "--demo-port", "x"], "--demo-port: invalid int value: 'x'"),
        (["demo", "--port", "65535"], "--demo-port: 65536 is not a port number"),
        (["demo", "--port", "8123", "--demo-port", "8123"], "--demo-port: 8123 is the server's port too"),
        (["demo", "--workers", "2"], "--workers is not an option of `frontdesk demo` (it applies to: serve;"),
        (["create-site", "Shop"], "the following arguments are required: --origin"),
        (["create-site", "Shop", "--origin", "https://shop.example", "--colour", "red"], "unrecognized arguments"),
        (["create-site", "Shop", "--origin", "https://shop.example", "--offset-x", "-4"],
         "error (offset_x): The launcher's horizontal offset must be a whole number of CSS pixels from 0 to 1000 (got '-4')."),
        (["create-site", "Shop", "--origin", "https://shop.example", "--offset-y", "20px"],
         "error (offset_y): The launcher's vertical offset must be a whole number of CSS pixels from 0 to 1000 (got '20px')."),
        (["create-site", "Shop", "--origin", "https://shop.example", "--offset-y", "1001"],
         "error (offset_y): The launcher's vertical offset must be a whole number of CSS pixels from 0 to 1000 (got 1001)."),
        (["migrate", "--database-url", "mysql://db/frontdesk"], "FRONTDESK_DATABASE_URL: only sqlite:///"),
        (["migrate", "--database-url", "postgresql://nobody:hunter2@127.0.0.1:1/frontdesk"],
         "cannot use the database postgresql://nobody:***@127.0.0.1:1/frontdesk (--database-url): "),
        (["migrate", "--data-dir", "/proc/frontdesk-data"], "cannot use the database in /proc/frontdesk-data (--data-dir)"),
    ],
)
def test_every_mistake_is_one_line(
    args: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_code:
        main(args)
    err = capsys.readouterr().err
    assert exit_code.value.code in (1, 2)
    assert err.count("\n") == 1 and err.startswith("frontdesk"), err
    assert says in err and "hunter2" not in err, err


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("which", ["serve --port", "demo --port", "demo --demo-port"])
def test_a_port_in_use_is_one_line_naming_the_port_and_flag(occupied: int, which: str, tmp_path: Path) -> None:
    command, flag = which.split()
    ports = {"--port": str(free_port()), "--demo-port": str(free_port()), flag: str(occupied)}
    args = ["--port", ports["--port"]] + (["--demo-port", ports["--demo-port"]] if command == "demo" else [])
    result = frontdesk(command, *args, "--data-dir", str(tmp_path))
    print(result.stderr)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {occupied} on 127.0.0.1 is already in use" in result.stderr
    assert result.stderr.rstrip().endswith(f"choose a free one with {flag} PORT"), result.stderr


def test_a_second_server_on_the_same_data_is_one_line(sqlite_server: ServerProcess) -> None:
    result = frontdesk("serve", "--port", str(free_port()), env=sqlite_server.env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "another Frontdesk is already running on this database" in result.stderr


@dataclass
class DemoRun(Killable):
    data_dir: Path
    port: int
    demo_port: int
    password: str = "restart-proof-password"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"demo-{self.port}.log"

    def start(self) -> "DemoRun":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "demo", "--port", str(self.port), "--demo-port", str(self.demo_port),
                 "--data-dir", str(self.data_dir), "--operator-password", self.password, "--log-level", "info"],
                env={k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")},
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for_http(self.url + "/healthz", process=self.process)
        wait_for_http(f"http://127.0.0.1:{self.demo_port}/", process=self.process)
        return self

    def site_key(self) -> str:
        match = re.search(r'data-site-key="([^"]+)"', httpx.get(f"http://127.0.0.1:{self.demo_port}/").text)
        assert match, "the demo page has no snippet"
        return match.group(1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def test_demo_restarted_on_other_ports_keeps_its_site_and_sessions(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = DemoRun(data_dir, free_port(), free_port()).start()
    try:
        key = first.site_key()
        operator = await console_login(first, "operator@example.com", first.password)  # type: ignore[arg-type]
        cookies = operator.cookies
        await operator.aclose()
    finally:
        first.stop()

    second = DemoRun(data_dir, free_port(), free_port()).start()
    try:
        assert second.site_key() == key
        demo_origin = f"http://127.0.0.1:{second.demo_port}"
        async with httpx.AsyncClient(base_url=second.url, cookies=cookies) as client:
            config = await client.get(f"/api/widget/v1/sites/{key}/config", headers={"Origin": demo_origin})
            old_origin = await client.get(
                f"/api/widget/v1/sites/{key}/config", headers={"Origin": f"http://127.0.0.1:{first.demo_port}"}
            )
            inbox = await client.get("/api/console/v1/conversations")
        assert config.status_code == 200, config.text  # the site follows the demo to its new port
        assert old_origin.status_code == 403
        assert inbox.status_code == 200, inbox.text  # the first run's console session still works
    finally:
        second.stop()

    from server.cli import opened
    from server.config import Settings
    from server.services import sites

    async with opened(Settings.from_env({}, data_dir=str(data_dir))) as state:
        names = [s.name for s in await sites.list_sites(state.db)]
    assert len(names) == 1, names

    # Each start-up line says which of the demo's two servers it is about.
    log = first.log()
    print(log)
    assert f"Frontdesk server on http://127.0.0.1:{first.port}" in log
    assert f"Demo website on http://127.0.0.1:{first.demo_port}" in log
    assert "Uvicorn running on" not in log
    started = [line for line in log.splitlines() if "Started server process" in line]
    assert len(started) == 2 and any("Frontdesk server: " in s for s in started) and any(
        "Demo website: " in s for s in started), started


async def test_demo_finds_the_site_of_an_older_data_directory_and_seeds_a_new_one(tmp_path: Path) -> None:
    """A data directory from before the key file was kept finds its demo site by name,
    the name it had then ("Demo site") as well as today's; a fresh one gets the demo's
    own colour and greetings in every language."""
    from server.cli import opened
    from server.config import Settings
    from server.demo import DEMO_BRAND_COLOR, DEMO_SITE_NAME, prepare_demo
    from server.locales import LANGUAGES
    from server.services import sites

    older = tmp_path / "older"
    async with opened(Settings.from_env({}, data_dir=str(older))) as state:
        old = await sites.create_site(state.writer, "Demo site", ["http://127.0.0.1:8001"], greeting="Hi!")
        found, _ = await prepare_demo(state, 9001, "operator@example.com", None)
        assert found.key == old.key and found.name == "Demo site" and found.greeting == {"": "Hi!"}
        assert set(found.allowed_origins) == {"http://127.0.0.1:9001", "http://localhost:9001"}
        assert len(await sites.list_sites(state.db)) == 1
    assert (older / "demo-site-key").read_text() == old.key

    fresh = tmp_path / "fresh"
    async with opened(Settings.from_env({}, data_dir=str(fresh))) as state:
        made, _ = await prepare_demo(state, 9001, "operator@example.com", None)
        again, _ = await prepare_demo(state, 9003, "operator@example.com", None)
    assert made.name == DEMO_SITE_NAME and made.color == DEMO_BRAND_COLOR
    assert set(LANGUAGES) <= set(made.greeting), made.greeting
    assert again.key == made.key


def test_create_site_snippet_names_the_servers_address_or_says_what_is_missing(tmp_path: Path) -> None:
    """Without FRONTDESK_PUBLIC_URL this command cannot know where the running server is
    reached (issue 19: it printed :8000 for a server on another port): it uses --port when
    given and says that FRONTDESK_PUBLIC_URL should be set; with it, the snippet uses it."""
    env = {"FRONTDESK_DATA_DIR": str(tmp_path)}
    clean = {k: v for k, v in os.environ.items() if k not in ("FRONTDESK_PUBLIC_URL", "FRONTDESK_PORT", "FRONTDESK_HOST")}

    def create(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server.cli", "create-site", "Shop", "--origin", "https://shop.example",
             "--allow-duplicate-name", *args],
            env={**clean, **env, **extra}, capture_output=True, text=True, timeout=60,
        )

    guessed = create()
    assert guessed.returncode == 0, guessed.stderr
    assert "FRONTDESK_PUBLIC_URL is not set" in guessed.stderr, guessed.stderr
    assert "http://127.0.0.1:8000" in guessed.stderr  # the assumption, named

    on_port = create("--port", "38000")
    assert 'src="http://127.0.0.1:38000/embed.js"' in on_port.stdout, on_port.stdout
    assert "FRONTDESK_PUBLIC_URL is not set" in on_port.stderr

    public = create(FRONTDESK_PUBLIC_URL="https://chat.example.com/")
    assert 'src="https://chat.example.com/embed.js"' in public.stdout, public.stdout
    assert public.stderr == ""


def test_each_worker_of_serve_workers_takes_its_start_up_objects_out_of_the_collector(tmp_path: Path) -> None:
    """``serve --workers`` builds each process's app through its own factory; like a lone
    server, a started worker leaves its start-up objects (modules, the app, its state) out
    of the cycle collector, whose every full walk of them held all of that process's sockets
    (~70 ms a walk measured). Run as a worker is: settings from the environment."""
    data = tmp_path / "data"
    env = {"FRONTDESK_DATA_DIR": str(data)}
    assert frontdesk("migrate", env=env).returncode == 0
    probe = (
        "import asyncio, gc, json\n"
        "from server.cli.serving import create_worker_app\n"
        "async def main():\n"
        "    app = create_worker_app()\n"
        "    async with app.router.lifespan_context(app):\n"
        "        print(json.dumps({'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects())}))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["frozen"] > 50_000, counts  # the app and its modules, out of the walks
    assert counts["tracked"] < counts["frozen"] // 10, counts  # what a full collection still walks
