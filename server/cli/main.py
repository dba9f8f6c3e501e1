"""`frontdesk COMMAND`: parse, run the command, and turn every error into one line."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, Callable, Coroutine, Sequence

from ..config import Settings, SettingsError
from ..errors import FrontdeskError
from .admin import (
    change_operator, create_operator, create_site, create_webhook, list_webhooks, revoke_visitor, set_callbacks,
    show_identity_secret, update_site,
)
from .faq import export_faq, import_faq
from .parser import build_parser, settings_from, unknown_options
from .serving import run_server, serve_demo, serve_one, serve_workers
from .support import CliError, migrate, reason



# One-off commands that open the app's state, do one thing and print: each is a coroutine of
# (settings, args).
_ADMIN_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]]] = {
    "create-operator": create_operator,
    **dict.fromkeys(
        ("set-password", "set-role", "set-sites", "deactivate-operator", "activate-operator", "end-sessions"),
        change_operator,
    ),
    "revoke-visitor": revoke_visitor,
    "create-site": create_site,
    "set-callbacks": set_callbacks,
    "update-site": update_site,
    "show-identity-secret": show_identity_secret,
    "create-webhook": create_webhook,
    "list-webhooks": list_webhooks,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        parser.exit(2, f"frontdesk: error: {unknown_options(extra, args.command)} (see `frontdesk {args.command} --help`)\n")
    settings: Settings | None = None
    try:
        settings = settings_from(args)
        if args.command == "serve" and settings.workers > 1:
            serve_workers(settings)
        elif args.command == "serve":
            run_server(serve_one(settings))
        elif args.command == "migrate":
            asyncio.run(migrate(settings))
        elif args.command == "demo":
            run_server(serve_demo(settings, args))
        elif args.command in _ADMIN_COMMANDS:
            asyncio.run(_ADMIN_COMMANDS[args.command](settings, args))
        elif args.command == "faq":
            asyncio.run(import_faq(settings, args) if args.faq_command == "import" else export_faq(settings, args))
    except SettingsError as exc:
        parser.exit(2, f"frontdesk: error: {exc}\n")
    except FrontdeskError as exc:
        field = f" ({exc.field})" if exc.field else ""
        from ..catalogs import Catalogs

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
    text = reason(exc)
    if isinstance(exc, OSError) or text == type(exc).__name__:
        return text
    return f"{type(exc).__name__}: {text}"


