"""The `frontdesk` command: serve, demo, migrate, create-operator, set-password, set-role,
deactivate-operator, activate-operator, end-sessions, revoke-visitor, create-site, create-webhook, list-webhooks.

Every setting is a FRONTDESK_* environment variable, read by every command, and a flag of
the commands that use it (flags win; server/config.py says which). Every mistake a user
can make here ends in one line on stderr that names what to change, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import logging
import os
import socket
import sys
from typing import Any, AsyncIterator, Sequence

from . import __version__
from .config import Settings, SettingsError, commands_label
from .errors import FrontdeskError, NotFound
from .locales import LANGUAGES
from .logs import logging_config, server_name
from .services.events import CATALOGUE as EVENT_TYPES

log = logging.getLogger("frontdesk")


class CliError(Exception):
    """Something the user can fix, said in one line (exit status 1)."""


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group("settings (each also a FRONTDESK_* environment variable)")
    for f in Settings.fields_for(command):
        default = "(empty)" if f.default == "" else f.default
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=Settings.env_name(f.name),
            help=f"{f.metadata['help']} Default: {default}.",
        )


def _settings_overview() -> str:
    rows = [(f"--{f.name.replace('_', '-')}", Settings.env_name(f.name), commands_label(f)) for f in Settings.fields()]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"  {flag:<{width[0]}}  {env:<{width[1]}}  {commands}" for flag, env, commands in rows]
    return (
        "settings: each is a FRONTDESK_* environment variable (read by every command) and a flag\n"
        "of the commands that use it (flags win):\n" + "\n".join(lines) +
        "\n\nRun `frontdesk COMMAND --help` for a command's own options."
    )


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line and a pointer to --help, not the whole usage."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _unknown_options(extra: list[str], command: str) -> str:
    """What to say about arguments the command does not take; a setting of another
    command is named as such."""
    by_flag = {"--" + f.name.replace("_", "-"): f for f in Settings.fields()}
    for arg in extra:
        f = by_flag.get(arg.split("=", 1)[0])
        if f is not None:
            return (
                f"{arg.split('=', 1)[0]} is not an option of `frontdesk {command}` "
                f"(it applies to: {commands_label(f)}; {Settings.env_name(f.name)} is read by every command)"
            )
    return f"unrecognized arguments: {' '.join(extra)}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="frontdesk",
        description="Frontdesk: a self-hosted front desk (live chat widget and operator console) for websites.",
        epilog=_settings_overview(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"frontdesk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def command(name: str, help: str, epilog: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, epilog=epilog)
        _add_settings(sub, name)
        return sub

    command("serve", "Run the server (migrates the database first).")
    command("migrate", "Create or upgrade the database schema.")

    demo = command(
        "demo", "Run the server and a demo website on a second port, with a demo site and operator.",
        epilog="The server's other settings (see `frontdesk serve --help`) take their FRONTDESK_* variables "
        "or defaults. Run it again with the same data directory to keep the demo site, its conversations "
        "and the operator's sessions, on any ports.",
    )
    demo.add_argument("--demo-port", type=int, default=None, help="Port of the demo website. Default: server port + 1.")
    demo.add_argument("--operator-email", default="operator@example.com", help="Demo operator's email.")
    demo.add_argument(
        "--operator-password", default=None,
        help="Demo operator's password. Default: the last demo run's in this data directory, else a new random one.",
    )

    operator = command("create-operator", "Add an operator.")
    operator.add_argument("email", help="The operator's email (their login).")
    operator.add_argument("--name", default=None, help="Display name shown to visitors.")
    operator.add_argument("--role", choices=("admin", "agent"), default="admin", help="Role. Default: admin.")
    operator.add_argument(
        "--password", default=None,
        help="Password (at least 8 characters). Default: FRONTDESK_OPERATOR_PASSWORD, else asked for.",
    )

    for name, help_text in (
        ("set-password", "Give an operator a new password; ends all their console sessions."),
        ("set-role", "Change an operator's role; ends all their console sessions."),
        ("deactivate-operator", "Stop an operator from logging in; ends all their console sessions."),
        ("activate-operator", "Let a deactivated operator log in again."),
        ("end-sessions", "Sign an operator out everywhere (e.g. a lost laptop)."),
    ):
        change = command(name, help_text)
        change.add_argument("email", help="The operator's email (their login).")
        if name == "set-password":
            change.add_argument(
                "--password", default=None,
                help="New password (at least 8 characters). Default: FRONTDESK_OPERATOR_PASSWORD, else asked for.",
            )
        elif name == "set-role":
            change.add_argument("role", choices=("admin", "agent"), help="The new role.")

    revoke = command(
        "revoke-visitor",
        "Make every token a visitor was given stop working (a leaked or shared token); "
        "their next visit starts as a new anonymous visitor.",
    )
    revoke.add_argument("visitor_id", help="The visitor's id, as the console shows it.")

    site = command("create-site", "Add a site and print its key.")
    site.add_argument("name", help="The site's name, shown in the widget.")
    site.add_argument(
        "--origin", action="append", required=True,
        help="An origin allowed to embed the widget, like https://shop.example.com (repeatable); "
        "https://*.example.com allows every subdomain of example.com (at any depth), not example.com itself.",
    )
    site.add_argument("--color", default="#2563eb", help="Widget colour as #rrggbb. Default: #2563eb.")
    site.add_argument(
        "--position", choices=("auto", "right", "left"), default="auto",
        help="Launcher corner: auto is bottom-right, bottom-left on right-to-left (dir=rtl) pages. Default: auto.",
    )
    site.add_argument("--language", choices=LANGUAGES, default=None, help="Force the widget's language.")
    site.add_argument(
        "--greeting", action="append", default=[], metavar="[LANG=]TEXT",
        help="First words the widget shows: TEXT in every language, LANG=TEXT in one (e.g. ru=Здравствуйте!); "
             "repeatable, the plain TEXT is the fallback.",
    )
    site.add_argument(
        "--offset-x", default="16", metavar="PX",
        help="The launcher's distance from the side of its corner, in CSS pixels (0-1000), to clear the page's "
             "own corner buttons; a script tag's data-offset-x wins. Default: 16.",
    )
    site.add_argument(
        "--offset-y", default="16", metavar="PX",
        help="The launcher's distance from the bottom, in CSS pixels (0-1000); data-offset-y wins. Default: 16.",
    )
    site.add_argument(
        "--live-visitors", action="store_true",
        help="Register and connect every page view, so operators see visitors live before they open the chat "
             "(a visitor row and an open websocket per page view). Default: only visitors who open the chat "
             "or already have a conversation.",
    )
    site.add_argument(
        "--allow-duplicate-name", action="store_true",
        help="Create the site even if another site already has this name (refused by default).",
    )

    webhook = command("create-webhook", "Send a site's events to a URL as signed webhooks; prints the signing secret.")
    webhook.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    webhook.add_argument("url", help="The receiver's http(s) URL.")
    webhook.add_argument(
        "--event", action="append", default=[], metavar="TYPE",
        help=f"An event type to send (repeatable): {', '.join(EVENT_TYPES)}. Default: all of them.",
    )
    webhook.add_argument("--description", default=None, help="A note on what the endpoint is for.")

    listing = command("list-webhooks", "List webhook endpoints.")
    listing.add_argument("--site", default=None, help="Only this site's (its key).")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    names = {f.name for f in Settings.fields()}
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in names and v is not None})


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Any]:
    """Migrated database and a running writer, for commands that change data."""
    from .state import AppState

    await _upgrade(settings)
    state = await AppState.open(settings)
    try:
        yield state
    finally:
        await state.close()


async def _upgrade(settings: Settings) -> str:
    """Migrate; a database that cannot be reached or written is one line naming it."""
    from sqlalchemy.exc import SQLAlchemyError

    from .store import migrate
    from .store.db import Database

    try:
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            return await migrate.upgrade(db)
        finally:
            await db.close()
    except (OSError, SQLAlchemyError) as exc:
        raise CliError(f"cannot use the database {_database_label(settings)}: {_reason(exc)}") from None


def _database_label(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    if settings.database_url:
        return make_url(settings.database_url).render_as_string(hide_password=True) + " (--database-url)"
    return f"in {settings.data_dir} (--data-dir)"


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if isinstance(cause, OSError) and cause.strerror:
        return f"{cause.filename}: {cause.strerror}" if cause.filename else cause.strerror
    text = " ".join(str(cause).split()) or type(cause).__name__
    return text[:300]


async def _migrate(settings: Settings) -> None:
    print(f"database schema at revision {await _upgrade(settings)}")


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host, "log_level": settings.log_level, "lifespan": "on",
        "log_config": logging_config(settings.log_level, settings.log_format),
        "access_log": settings.log_level == "debug",  # access lines carry visitors' IP addresses
        # Per-message deflate costs ~30 % of throughput and 2.5x the memory per idle socket.
        "ws": "websockets-sansio", "ws_max_size": settings.transport_frame_bytes, "ws_per_message_deflate": False,
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
    from .realtime.single_node import SingleNodeError, SingleNodeLock

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
        for name, server, _, url in servers:
            if server.started:
                log.info("%s on %s%s", name, url, " (press Ctrl+C to stop)" if len(servers) == 1 else "")
        await serving
    finally:
        for _, _, sock, _ in servers:
            sock.close()


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve_workers(settings: Settings) -> None:
    """Several processes behind one port (uvicorn's supervisor); they meet in Redis."""
    import uvicorn

    _listen(settings.host, settings.port, "--port").close()  # in use: one line, before the workers start
    _run_server(_migrate(settings))
    settings.resolved_secret_key()  # made once here, not raced by the workers
    for f in Settings.fields():  # the workers build their settings from the environment
        os.environ[Settings.env_name(f.name)] = str(getattr(settings, f.name))
    uvicorn.run(
        "server.app:create_app", factory=True, workers=settings.workers, port=settings.port,
        loop="uvloop" if _has_uvloop() else "asyncio", **_uvicorn_options(settings),
    )


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


async def _serve(settings: Settings) -> None:
    from .app import create_app
    from .store.db import Database

    sock = _listen(settings.host, settings.port, "--port")
    try:
        await _migrate(settings)
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            await _check_alone(settings, db)
        finally:
            await db.close()
    except BaseException:
        sock.close()
        raise
    server = _uvicorn_server(create_app(settings), settings, settings.port)
    await _serve_named([("Frontdesk server", server, sock, _url(settings.host, settings.port))])


def _password(args: argparse.Namespace, prompt: str) -> str:
    """--password, else FRONTDESK_OPERATOR_PASSWORD, else asked on the terminal; without
    any of them, one line that says what to do (exit code 2), not a traceback."""
    password = args.password or os.environ.get("FRONTDESK_OPERATOR_PASSWORD")
    if password:
        return password
    if sys.stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except EOFError:
            pass
    print(
        "frontdesk: error (password): no password given and no terminal to ask for one: "
        "pass --password PASSWORD or set FRONTDESK_OPERATOR_PASSWORD",
        file=sys.stderr,
    )
    raise SystemExit(2)


async def _create_operator(settings: Settings, args: argparse.Namespace) -> None:
    from .services import operators

    password = _password(args, "Password for the new operator: ")
    async with opened(settings) as state:
        operator = await operators.create_operator(
            state.writer, state.signer, args.email, password, name=args.name, role=args.role
        )
    print(f"operator {operator.email} created (id {operator.id}, role {operator.role})")


async def _change_operator(settings: Settings, args: argparse.Namespace) -> None:
    """set-password, set-role, deactivate-operator, activate-operator, end-sessions."""
    from .realtime.hub import announce_session_ended
    from .services import operators

    password = _password(args, "New password: ") if args.command == "set-password" else None
    async with opened(settings) as state:
        if password is not None:
            changed_operator = await operators.set_password(state.writer, state.signer, args.email, password)
            if changed_operator is None:
                raise NotFound(field="email")
            operator, ended = changed_operator, True  # consoles check their session before closing
            done = "password set"
        elif args.command == "set-role":
            operator, ended = await operators.set_role(state.writer, args.email, args.role)
            done = f"role {args.role}"
        elif args.command in ("deactivate-operator", "activate-operator"):
            active = args.command == "activate-operator"
            operator, ended = await operators.set_active(state.writer, args.email, active)
            done = "active" if active else "deactivated"
        else:
            operator, count = await operators.end_sessions(state.writer, args.email)
            ended, done = count > 0, f"{count} session(s) ended"
        if ended:
            # Open consoles close now on nodes that share this hub (Redis); elsewhere at
            # their next session check (FRONTDESK_SESSION_CHECK_SECONDS).
            await announce_session_ended(state.hub, operator.id)
    print(f"operator {operator.email}: {done}")


async def _revoke_visitor(settings: Settings, args: argparse.Namespace) -> None:
    from .services import visitors

    async with opened(settings) as state:
        if not await visitors.revoke_tokens(state.writer, args.visitor_id):
            raise NotFound(field="visitor")
    print(f"visitor {args.visitor_id}: every token revoked (open widgets are refused when they reconnect)")


def _greetings(values: list[str]) -> dict[str, str]:
    """--greeting TEXT / --greeting ru=TEXT as {"": TEXT, "ru": TEXT}; one per language."""
    import re

    from .errors import Invalid

    texts: dict[str, str] = {}
    for value in values:
        match = re.match(r"([a-z]{2,3})=(.*)", value, re.S)
        lang, text = match.groups() if match else ("", value)
        if lang in texts:
            raise Invalid(field="greeting")
        texts[lang] = text
    return texts


async def _create_site(settings: Settings, args: argparse.Namespace) -> None:
    from .services import sites
    from .web.console.pages import snippet

    async with opened(settings) as state:
        site = await sites.create_site(
            state.writer, args.name, args.origin, color=args.color, position=args.position,
            language=args.language, greeting=_greetings(args.greeting), offset_x=args.offset_x,
            offset_y=args.offset_y, live_visitors=args.live_visitors, allow_duplicate_name=args.allow_duplicate_name,
        )
    base = settings.public_url.rstrip("/")
    print(f"site {site.name!r} created\nkey: {site.key}")
    if base:
        print(f"snippet: {snippet(base, site.key)}")
        return
    # No public URL: this command cannot know where the running server is reached (it may
    # listen on another port, behind a proxy); say so rather than print a wrong address.
    guess = _url(settings.host, settings.port)
    print(f"snippet: {snippet(guess, site.key)}")
    print(
        f"note: FRONTDESK_PUBLIC_URL is not set, so the snippet assumes the server at {guess} "
        f"(--host/--port of this command). Set FRONTDESK_PUBLIC_URL (or pass --public-url) to the address "
        "visitors' browsers reach the server at, e.g. https://chat.example.com, and the snippet will use it.",
        file=sys.stderr,
    )


async def _create_webhook(settings: Settings, args: argparse.Namespace) -> None:
    from .services import webhooks

    async with opened(settings) as state:
        endpoint = await webhooks.create_endpoint(
            state.writer, state.db, args.site, args.url, event_types=args.event, description=args.description,
            allow_private=settings.webhook_allow_private_networks,
        )
    print(
        f"webhook {endpoint.id} created\nurl: {endpoint.url}\nevents: {', '.join(endpoint.event_types)}\n"
        f"secret: {endpoint.secret}\n(verify deliveries with this secret; see docs/webhooks.md)"
    )


async def _list_webhooks(settings: Settings, args: argparse.Namespace) -> None:
    from .services import webhooks

    async with opened(settings) as state:
        endpoints = await webhooks.list_endpoints(state.db, args.site)
    for e in endpoints:
        state_word = "enabled" if e.enabled else "disabled"
        print(f"{e.id}\tsite {e.site_id}\t{state_word}\t{e.url}\t{','.join(e.event_types)}")


async def _demo(settings: Settings, args: argparse.Namespace) -> None:
    from .app import create_app
    from .demo import create_demo_app, prepare_demo

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
    server_url = _url(settings.host, settings.port)
    demo_url = _url(settings.host, demo_port)
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


def _run_server(coro: Any) -> None:
    """Servers run on uvloop where it is installed (uvicorn[standard] brings it): the
    event loop and socket writes are a large share of a relay's CPU."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.exit(2, f"frontdesk: error: {_unknown_options(extra, args.command)} (see `frontdesk {args.command} --help`)\n")
    settings: Settings | None = None
    try:
        settings = settings_from(args)
        if args.command == "serve" and settings.workers > 1:
            _serve_workers(settings)
        elif args.command == "serve":
            _run_server(_serve(settings))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "demo":
            _run_server(_demo(settings, args))
        elif args.command == "create-operator":
            asyncio.run(_create_operator(settings, args))
        elif args.command in ("set-password", "set-role", "deactivate-operator", "activate-operator", "end-sessions"):
            asyncio.run(_change_operator(settings, args))
        elif args.command == "revoke-visitor":
            asyncio.run(_revoke_visitor(settings, args))
        elif args.command == "create-site":
            asyncio.run(_create_site(settings, args))
        elif args.command == "create-webhook":
            asyncio.run(_create_webhook(settings, args))
        elif args.command == "list-webhooks":
            asyncio.run(_list_webhooks(settings, args))
    except SettingsError as exc:
        parser.exit(2, f"frontdesk: error: {exc}\n")
    except FrontdeskError as exc:
        field = f" ({exc.field})" if exc.field else ""
        from .catalogs import Catalogs

        message = Catalogs().first("en", exc.message_keys, **exc.params)
        hint = _HINTS.get((exc.code, exc.field), "")
        parser.exit(2, f"frontdesk: error{field}: {message}{hint}\n")
    except CliError as exc:
        parser.exit(1, f"frontdesk: error: {exc}\n")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the last word: one line, the traceback only at debug
        if settings is not None and settings.log_level.lower() == "debug":
            raise
        parser.exit(1, f"frontdesk: error: {_describe(exc)} (FRONTDESK_LOG_LEVEL=debug shows the details)\n")
    return 0


# What only the command line can add to a service's message.
_HINTS = {("exists", "name"): " Choose another name, or add --allow-duplicate-name to create it anyway."}


def _describe(exc: BaseException) -> str:
    """One line for an error nobody foresaw."""
    reason = _reason(exc)
    if isinstance(exc, OSError) or reason == type(exc).__name__:
        return reason
    return f"{type(exc).__name__}: {reason}"


if __name__ == "__main__":
    sys.exit(main())
