"""Real Frontdesk servers for tests: `frontdesk serve` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REQUIRE_SERVICES = os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("FRONTDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    """A port nothing listens on now. Under pytest-xdist each worker takes only ports of its
    own residue class, so two workers never pick the same port between finding it free and
    their server binding it (the kernel hands bind(0) out at random, odd ports preferred:
    hence port // 2)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    me = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    for _ in range(50 * workers):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if workers <= 1 or (port // 2) % workers == me % workers:
            return port
    return port


def wait_for_http(url: str, *, timeout: float = 120.0, process: subprocess.Popen[bytes] | None = None) -> None:
    # (Generous: on a loaded machine a server has taken over a minute to start.)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Killable:
    """A child process a test can crash (SIGKILL) or stop."""

    process: subprocess.Popen[bytes] | None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class ServerProcess(Killable):
    """One `frontdesk serve`; start, kill -9 and start again on the same port and data."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def start(self) -> "ServerProcess":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), *self.extra_args],
            env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for_http(self.url + "/healthz", process=self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- server log ---\n{self.log_path.read_text()[-4000:]}") from None
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def postgres_available() -> str | None:
    """None if PostgreSQL answers, else why not."""

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"), timeout=3)
        await conn.close()

    try:
        run_sync(probe())
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"{type(exc).__name__}: {exc}"
    return None


def create_scratch_database() -> tuple[str, str]:
    """A fresh PostgreSQL database; returns (its URL, its name)."""

    import asyncpg

    name = "frontdesk_test_" + uuid.uuid4().hex[:12]

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_sync(create())
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", name


def run_sync(coroutine: Any) -> Any:
    """``asyncio.run`` on a thread of its own: these helpers are called from sync code that
    may have Playwright's loop marked running in this thread (a worker's session fixtures
    torn down after its last test, a browser test)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def drop_database(name: str) -> None:

    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql://", "postgres://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_sync(drop())


REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_available() -> str | None:
    """None if Redis answers, else why not."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def require_redis(what: str = "") -> None:
    """Skip without Redis, or fail where CI says it must be there (FRONTDESK_REQUIRE_SERVICES)."""
    why = redis_available()
    if why is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis is required here (FRONTDESK_REQUIRE_SERVICES=1) but: {why}")
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({why}){': ' + what if what else ''}")


def frontdesk(server: ServerProcess, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    """The `frontdesk` command as an admin runs it on the server's machine."""
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], env={**os.environ, **server.env},
        stdin=stdin, capture_output=True, text=True, timeout=60,
    )
