"""`frontdesk COMMAND`: parse, run the command, and turn every error into one line."""

from __future__ import annotations

import asyncio
from typing import Sequence

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
        elif args.command == "create-operator":
            asyncio.run(create_operator(settings, args))
        elif args.command in ("set-password", "set-role", "set-sites", "deactivate-operator", "activate-operator", "end-sessions"):
            asyncio.run(change_operator(settings, args))
        elif args.command == "revoke-visitor":
            asyncio.run(revoke_visitor(settings, args))
        elif args.command == "create-site":
            asyncio.run(create_site(settings, args))
        elif args.command == "set-callbacks":
            asyncio.run(set_callbacks(settings, args))
        elif args.command == "update-site":
            asyncio.run(update_site(settings, args))
        elif args.command == "show-identity-secret":
            asyncio.run(show_identity_secret(settings, args))
        elif args.command == "create-webhook":
            asyncio.run(create_webhook(settings, args))
        elif args.command == "list-webhooks":
            asyncio.run(list_webhooks(settings, args))
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


