"""The `frontdesk` command: serve, demo, migrate, create-operator, set-password, set-role,
deactivate-operator, activate-operator, end-sessions, create-site, create-webhook, list-webhooks.

Every setting is a flag here and a FRONTDESK_* environment variable (flags win).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from typing import Any, AsyncIterator, Sequence

from . import __version__
from .config import Settings, SettingsError
from .errors import FrontdeskError, NotFound
from .locales import LANGUAGES
from .logs import logging_config
from .services.events import CATALOGUE as EVENT_TYPES

DEMO_SITE_NAME = "Demo site"


def _settings_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("settings (each also a FRONTDESK_* environment variable)")
    for f in Settings.fields():
        default = "(empty)" if f.default == "" else f.default
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=argparse.SUPPRESS,  # so a flag before or after the command both count
            metavar=Settings.env_name(f.name),
            help=f"{f.metadata['help']} Default: {default}.",
        )
    return parser


def build_parser() -> argparse.ArgumentParser:
    settings_parent = _settings_parser()
    parser = argparse.ArgumentParser(
        prog="frontdesk",
        description="Frontdesk: a self-hosted front desk (live chat widget and operator console) for websites.",
        parents=[settings_parent],
        epilog="Run `frontdesk COMMAND --help` for a command's own options.",
    )
    parser.add_argument("--version", action="version", version=f"frontdesk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("serve", parents=[settings_parent], help="Run the server (migrates the database first).")
    commands.add_parser("migrate", parents=[settings_parent], help="Create or upgrade the database schema.")

    demo = commands.add_parser(
        "demo", parents=[settings_parent],
        help="Run the server and a demo website on a second port, with a demo site and operator.",
    )
    demo.add_argument("--demo-port", type=int, default=None, help="Port of the demo website. Default: server port + 1.")
    demo.add_argument("--operator-email", default="operator@example.com", help="Demo operator's email.")
    demo.add_argument("--operator-password", default=None, help="Demo operator's password. Default: a new random one.")

    operator = commands.add_parser("create-operator", parents=[settings_parent], help="Add an operator.")
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
        command = commands.add_parser(name, parents=[settings_parent], help=help_text)
        command.add_argument("email", help="The operator's email (their login).")
        if name == "set-password":
            command.add_argument(
                "--password", default=None,
                help="New password (at least 8 characters). Default: FRONTDESK_OPERATOR_PASSWORD, else asked for.",
            )
        elif name == "set-role":
            command.add_argument("role", choices=("admin", "agent"), help="The new role.")

    site = commands.add_parser("create-site", parents=[settings_parent], help="Add a site and print its key.")
    site.add_argument("name", help="The site's name, shown in the widget.")
    site.add_argument("--origin", action="append", required=True,
                      help="An origin allowed to embed the widget, like https://shop.example.com (repeatable).")
    site.add_argument("--color", default="#2563eb", help="Widget colour as #rrggbb. Default: #2563eb.")
    site.add_argument("--position", choices=("right", "left"), default="right", help="Launcher corner.")
    site.add_argument("--language", choices=LANGUAGES, default=None, help="Force the widget's language.")
    site.add_argument(
        "--greeting", action="append", default=[], metavar="[LANG=]TEXT",
        help="First words the widget shows: TEXT in every language, LANG=TEXT in one (e.g. ru=Здравствуйте!); "
             "repeatable, the plain TEXT is the fallback.",
    )

    webhook = commands.add_parser(
        "create-webhook", parents=[settings_parent],
        help="Send a site's events to a URL as signed webhooks; prints the signing secret.",
    )
    webhook.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    webhook.add_argument("url", help="The receiver's http(s) URL.")
    webhook.add_argument(
        "--event", action="append", default=[], metavar="TYPE",
        help=f"An event type to send (repeatable): {', '.join(EVENT_TYPES)}. Default: all of them.",
    )
    webhook.add_argument("--description", default=None, help="A note on what the endpoint is for.")

    listing = commands.add_parser("list-webhooks", parents=[settings_parent], help="List webhook endpoints.")
    listing.add_argument("--site", default=None, help="Only this site's (its key).")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    names = {f.name for f in Settings.fields()}
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in names and v is not None})


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Any]:
    """Migrated database and a running writer, for commands that change data."""
    from .state import AppState
    from .store import migrate
    from .store.db import Database

    db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()
    state = await AppState.open(settings)
    try:
        yield state
    finally:
        await state.close()


async def _migrate(settings: Settings) -> None:
    from .store import migrate
    from .store.db import Database

    db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        revision = await migrate.upgrade(db)
    finally:
        await db.close()
    print(f"database schema at revision {revision}")


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


def _uvicorn_server(app: Any, settings: Settings, port: int) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, port=port, **_uvicorn_options(settings)))


def _serve_workers(settings: Settings) -> None:
    """Several processes behind one port (uvicorn's supervisor); they meet in Redis."""
    import uvicorn

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

    await _migrate(settings)
    await _uvicorn_server(create_app(settings), settings, settings.port).serve()


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
            language=args.language, greeting=_greetings(args.greeting),
        )
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    print(f"site {site.name!r} created\nkey: {site.key}\nsnippet: {snippet(base, site.key)}")


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
    async with opened(settings) as state:
        site, password = await prepare_demo(state, demo_port, args.operator_email, args.operator_password)
    server_url = f"http://{settings.host}:{settings.port}"
    demo_url = f"http://{settings.host}:{demo_port}"
    server = _uvicorn_server(create_app(settings), settings, settings.port)
    demo = _uvicorn_server(create_demo_app(server_url, site.key), settings, demo_port)
    serving = asyncio.gather(server.serve(), demo.serve())
    while not (server.started and demo.started) and not serving.done():
        await asyncio.sleep(0.05)
    if server.started and demo.started:
        print(
            "\nFrontdesk demo is running.\n"
            f"  Demo website (the visitor's side): {demo_url}/\n"
            f"  Operator console:                  {server_url}/console/\n"
            f"  Operator email:                    {args.operator_email}\n"
            f"  Operator password:                 {password}\n"
            "Press Ctrl+C to stop.\n",
            flush=True,
        )
    await serving


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
    args = parser.parse_args(argv)
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
        parser.exit(2, f"frontdesk: error{field}: {message}\n")
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
