"""serve and demo: uvicorn on sockets bound here (a port in use is one line), named log lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import logging
import os
import socket
from typing import Any, AsyncIterator

from ..config import Settings
from ..logs import logging_config, server_name
from .support import CliError, migrate, opened, url

log = logging.getLogger("frontdesk")


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    from ..web.ws_protocol import LeanWebSocketProtocol

    return {
        "host": settings.host, "log_level": settings.log_level, "lifespan": "on",
        "log_config": logging_config(settings.log_level, settings.log_format),
        "access_log": settings.log_level == "debug",  # access lines carry visitors' IP addresses
        # Per-message deflate costs ~30 % of throughput and 2.5x the memory per idle socket.
        # The protocol is uvicorn's "websockets-sansio" with less state per open socket.
        "ws": LeanWebSocketProtocol, "ws_max_size": settings.transport_frame_bytes, "ws_per_message_deflate": False,
        "server_header": False,
        # The client's address comes from web/addresses.py, which trusts forwarding headers
        # only from FRONTDESK_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1).
        "proxy_headers": False,
    }


def _uvicorn_server(app: Any, settings: Settings, port: int, **options: Any) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, port=port, **{**_uvicorn_options(settings), **options}))


def _listen(host: str, port: int, flag: str) -> socket.socket:
    """The server's listening socket, bound here so that a port in use is one clear line
    (uvicorn would log it, shut down, and leave a traceback per server)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError):
        raise CliError(f"--host {host}: not an address or host name this machine can listen on") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart right after a stop
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {port} on {host} is already in use (another Frontdesk or another program); "
                f"choose a free one with {flag} PORT"
            ) from None
        if exc.errno == errno.EACCES:
            raise CliError(f"port {port} needs privileges this user does not have; choose one above 1023 with {flag} PORT") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise CliError(f"--host {host}: this machine has no such address (try 127.0.0.1 or 0.0.0.0)") from None
        raise CliError(f"cannot listen on {host} port {port} ({exc.strerror}); choose another with {flag} PORT") from None
    return sock


async def _check_alone(settings: Settings, db: Any) -> None:
    """Refuse in one line, before anything starts, what the server's start-up would refuse
    with a traceback: a second server on the same data without Redis."""
    from ..realtime.single_node import SingleNodeError, SingleNodeLock

    if settings.redis_url:
        return
    try:
        lock = await SingleNodeLock.acquire(db)
    except SingleNodeError:
        if settings.database_url:
            where, other = "database", "another --database-url"
        else:
            where, other = f"data directory ({settings.data_dir})", "its own --data-dir"
        raise CliError(
            f"another Frontdesk is already running on this {where}; stop it first, or give this one {other} "
            "(several processes on one database need FRONTDESK_REDIS_URL)"
        ) from None
    await lock.release()


def _freeze_startup_objects() -> None:
    """Once serving, take what start-up made (modules, the app and its state: ~140,000
    objects) out of the cycle collector's walks. Each full collection walked them all:
    18-25 % of a node's CPU at saturation, timed by gc's own callbacks (issue 20;
    docs/benchmarks.md). What is made later is collected as before."""
    gc.collect()
    gc.freeze()


async def _serve_named(servers: list[tuple[str, Any, socket.socket, str]]) -> None:
    """Run uvicorn servers on their bound sockets; each one's log lines carry its name
    where there are several, and each says once where it listens."""

    async def serve(name: str, server: Any, sock: socket.socket) -> None:
        if len(servers) > 1:
            server_name.set(name)  # this task's context only
        await server.serve(sockets=[sock])

    serving = asyncio.gather(*(serve(name, server, sock) for name, server, sock, _ in servers))
    try:
        while not all(server.started for _, server, _, _ in servers) and not serving.done():
            await asyncio.sleep(0.05)
        for name, server, _, address in servers:
            if server.started:
                log.info("%s on %s%s", name, address, " (press Ctrl+C to stop)" if len(servers) == 1 else "")
        _freeze_startup_objects()
        await serving
    finally:
        for _, _, sock, _ in servers:
            sock.close()


def serve_workers(settings: Settings) -> None:
    """Several processes behind one port (uvicorn's supervisor); they meet in Redis."""
    import uvicorn

    _listen(settings.host, settings.port, "--port").close()  # in use: one line, before the workers start
    run_server(migrate(settings))
    settings.resolved_secret_key()  # made once here, not raced by the workers
    for f in Settings.fields():  # the workers build their settings from the environment
        os.environ[Settings.env_name(f.name)] = str(getattr(settings, f.name))
    uvicorn.run(
        "server.cli.serving:create_worker_app", factory=True, workers=settings.workers, port=settings.port,
        loop="uvloop" if _has_uvloop() else "asyncio", **_uvicorn_options(settings),
    )


def create_worker_app() -> Any:
    """The app of one ``serve --workers`` process (uvicorn's factory; settings from the
    environment). Like a lone server, it freezes its start-up objects once started: left
    to the cycle collector, each full collection walked them all, ~70 ms with every
    socket of the process waiting (docs/benchmarks.md)."""
    from ..app import create_app

    app = create_app()
    start = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(started_app: Any) -> AsyncIterator[Any]:
        async with start(started_app) as state:
            _freeze_startup_objects()
            yield state

    app.router.lifespan_context = lifespan
    return app


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


async def serve_one(settings: Settings) -> None:
    from ..app import create_app
    from ..state import open_database

    sock = _listen(settings.host, settings.port, "--port")
    try:
        await migrate(settings)
        db = open_database(settings)
        try:
            await _check_alone(settings, db)
        finally:
            await db.close()
    except BaseException:
        sock.close()
        raise
    server = _uvicorn_server(create_app(settings), settings, settings.port)
    await _serve_named([("Frontdesk server", server, sock, url(settings.host, settings.port))])


async def serve_demo(settings: Settings, args: argparse.Namespace) -> None:
    from ..app import create_app
    from ..demo import create_demo_app, prepare_demo

    demo_port = args.demo_port or settings.port + 1
    if not 0 < demo_port < 65536:
        raise CliError(f"--demo-port: {demo_port} is not a port number (1-65535)")
    if demo_port == settings.port:
        raise CliError(f"--demo-port: {demo_port} is the server's port too; choose another")
    sockets = [_listen(settings.host, settings.port, "--port")]
    try:
        sockets.append(_listen(settings.host, demo_port, "--demo-port"))
        async with opened(settings) as state:
            await _check_alone(settings, state.db)
            site, password = await prepare_demo(state, demo_port, args.operator_email, args.operator_password)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    server_url = url(settings.host, settings.port)
    demo_url = url(settings.host, demo_port)
    server = _uvicorn_server(create_app(settings), settings, settings.port)
    # The demo website has nothing to start or stop: no lifespan lines of its own.
    demo = _uvicorn_server(create_demo_app(server_url, site.key), settings, demo_port, lifespan="off")
    banner = asyncio.ensure_future(_print_banner(server, demo, demo_url, server_url, args.operator_email, password))
    try:
        await _serve_named([
            ("Frontdesk server", server, sockets[0], server_url), ("Demo website", demo, sockets[1], demo_url),
        ])
    finally:
        banner.cancel()


async def _print_banner(server: Any, demo: Any, demo_url: str, server_url: str, email: str, password: str) -> None:
    while not (server.started and demo.started):
        await asyncio.sleep(0.05)
    print(
        "\nFrontdesk demo is running.\n"
        f"  Demo website (the visitor's side): {demo_url}/\n"
        f"  Operator console:                  {server_url}/console/\n"
        f"  Operator email:                    {email}\n"
        f"  Operator password:                 {password}\n"
        "Press Ctrl+C to stop.\n",
        flush=True,
    )


def run_server(coro: Any) -> None:
    """Servers run on uvloop where it is installed (uvicorn[standard] brings it): the
    event loop and socket writes are a large share of a relay's CPU."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


