"""Fixtures: real servers per backend (SQLite, PostgreSQL), factories, protocol clients."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.clusters import Cluster
from tests.mailbox import Mailbox
from tests.receivers import Receiver
from tests.servers import (
    REQUIRE_SERVICES,
    ServerProcess,
    create_scratch_database,
    drop_database,
    postgres_available,
    require_redis,
)

BACKENDS = ["sqlite", "postgres"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # Browser tests are slowest: run them last so a protocol failure shows first.
        items.sort(key=lambda item: "browser" in item.keywords)
        return
    # In parallel (./dev test), whole files go to workers in this order (see pytest_configure):
    # the longest first, so that no long file starts last and keeps one worker busy alone.
    # A file's length is guessed from its tests: a browser test counts as three, a test with a
    # tmp_path of its own as five (it mostly starts a server or the CLI of its own), others one.
    weight: collections.Counter[str] = collections.Counter()
    for item in items:
        uses = getattr(item, "fixturenames", ())
        weight[item.nodeid.split("::")[0]] += 5 if "tmp_path" in uses else 3 if "browser" in item.keywords else 1
    items.sort(key=lambda item: -weight[item.nodeid.split("::")[0]])


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist would reorder the files by their number of tests: keep the order above.
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """Playwright's sync API (the session's `browser`) leaves its event loop marked as running
    in the main thread while it is open; a test after it that runs a loop of its own (every
    async test, asyncio.run) would find "another loop is running". Tests that do not use the
    browser run with the mark taken off, and it is put back for the next browser test. (Run
    alone, the browser tests come last; in parallel a worker mixes them with the others.)"""
    leaked = asyncio._get_running_loop()
    if leaked is None or "browser" in getattr(item, "fixturenames", ()):
        return (yield)
    asyncio._set_running_loop(None)
    try:
        return (yield)
    finally:
        asyncio._set_running_loop(leaked)


class Backend:
    """Where a test server keeps its data."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.pg_name: str | None = None
        if name == "postgres":
            why = postgres_available()
            if why is not None:
                if REQUIRE_SERVICES:
                    pytest.fail(f"PostgreSQL is required here (FRONTDESK_REQUIRE_SERVICES=1) but: {why}")
                pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({why}); set it up to run these tests")
            self.url, self.pg_name = create_scratch_database()
        else:
            self.url = f"sqlite:///{tmp / 'frontdesk.db'}"

    def env(self) -> dict[str, str]:
        return {
            "FRONTDESK_DATABASE_URL": self.url,
            "FRONTDESK_DATA_DIR": str(self.tmp),
            "FRONTDESK_SECRET_KEY": "test-secret-" + self.tmp.name,
            "FRONTDESK_LOG_LEVEL": "warning",
            "FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE": "5",
            # Crash and load tests send hundreds of messages from one visitor in seconds.
            "FRONTDESK_VISITOR_MESSAGES_PER_MINUTE": "100000",
            # Every test visitor comes from 127.0.0.1: per-address limits are tested on servers of their own.
            "FRONTDESK_NEW_VISITORS_PER_IP_PER_MINUTE": "100000",
            "FRONTDESK_SOCKETS_PER_IP": "100000",
        }

    def close(self) -> None:
        if self.pg_name:
            drop_database(self.pg_name)


def start_server(backend: Backend, **extra_env: str) -> ServerProcess:
    from server.cli import main

    # Migrate the way a user would, then serve.
    env = {**backend.env(), **extra_env}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        assert main(["migrate"]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return ServerProcess(env=env, log_path=backend.tmp / "server.log").start()


class SharedServers:
    """One server per backend for the whole session (of each pytest-xdist worker), started
    when a test first asks for it. Kept apart from the parametrized fixtures below so that
    switching between backends never restarts one: a worker runs whole files, sqlite and
    postgres tests alternating, and a session fixture with params is torn down and set up
    again at every switch."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.backends: dict[str, Backend] = {}
        self.servers: dict[str, ServerProcess] = {}

    def backend(self, name: str) -> Backend:
        if name not in self.backends:
            self.backends[name] = Backend(name, self.tmp_path_factory.mktemp(name))
        return self.backends[name]

    def server(self, name: str) -> ServerProcess:
        if name not in self.servers:
            self.servers[name] = start_server(self.backend(name))
        return self.servers[name]

    def close(self) -> None:
        for proc in self.servers.values():
            proc.stop()
        for b in self.backends.values():
            b.close()


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    shared = SharedServers(tmp_path_factory)
    yield shared
    shared.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, shared_servers: SharedServers) -> Backend:
    return shared_servers.backend(request.param)


@pytest.fixture(scope="module")
def server(backend: Backend, shared_servers: SharedServers) -> ServerProcess:
    """A shared server per backend; tests make their own sites, so they don't collide."""
    return shared_servers.server(backend.name)


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = Backend("sqlite", tmp_path_factory.mktemp("sqlite-only"))
    yield b
    b.close()


@pytest.fixture(scope="session")
def sqlite_server(sqlite_backend: Backend) -> Iterator[ServerProcess]:
    """For tests about the web layer that do not depend on the database backend."""
    proc = start_server(sqlite_backend)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A SQLite server for the admin pages' tests, which log many operators in: with a login
    budget of its own, so they do not use up the shared servers' per-address login limit."""
    b = Backend("sqlite", tmp_path_factory.mktemp("admin"))
    proc = start_server(b, FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE="1000")
    yield proc
    proc.stop()
    b.close()


_sequence = itertools.count(1)


@pytest.fixture
def seq() -> int:
    return next(_sequence)


@contextlib.contextmanager
def served(backend_name: str, tmp: Path, **extra_env: str) -> Iterator[ServerProcess]:
    """A server on a fresh database of its own, stopped and its database dropped after."""
    b = Backend(backend_name, tmp)
    try:
        proc = start_server(b, **extra_env)
        try:
            yield proc
        finally:
            proc.stop()
    finally:
        b.close()


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, on a fresh database (for tests that kill it)."""
    with served(request.param, tmp_path) as proc:
        yield proc


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Nodes on one PostgreSQL database (migrated) and one Redis prefix: ``add_node()``."""
    require_redis()
    backend = Backend("postgres", tmp_path)
    from server.cli import main

    c = Cluster(backend, tmp_path)
    with pytest.MonkeyPatch.context() as env:
        for name, value in c.env.items():
            env.setenv(name, value)
        assert main(["migrate"]) == 0
    yield c
    c.stop()
    backend.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (set .secret to the endpoint's to verify signatures)."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) for one test module: point a server at it with
    ``mailbox.env()``; tell a test's mail apart by its own recipient addresses."""
    box = Mailbox().start()
    yield box
    box.stop()
