"""The command line's grammar: each command with the settings it uses as flags."""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
from ..config import Settings, commands_label
from ..locales import LANGUAGES
from ..services.events import CATALOGUE as EVENT_TYPES


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


def unknown_options(extra: list[str], command: str) -> str:
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
    operator.add_argument(
        "--role", choices=("admin", "agent"), default="admin",
        help="admin: everything, operators and site settings included; agent: conversations and leads. Default: admin.",
    )
    operator.add_argument(
        "--sites", default=None, metavar="KEY,KEY",
        help="Only these sites' conversations (their keys, comma-separated). Default: every site.",
    )
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
        ("set-sites", "Limit an operator to some sites' conversations, or give them every site; "
                      "ends all their console sessions."),
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
        elif name == "set-sites":
            change.add_argument("sites", metavar="KEY,KEY|all", help="Site keys, comma-separated, or all.")

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
        "--consent-required", action="store_true",
        help="Consent mode: the widget stores nothing in the browser and connects to nothing until the page "
             "calls Frontdesk('consent', true) or the visitor opens the chat (a tag's data-consent=\"required\" "
             "asks for it on one page). Default: off.",
    )
    site.add_argument(
        "--contact", action="store_true",
        help="Show the contact form's tab (also what the chat offers when no operator is online); see docs/email.md.",
    )
    site.add_argument(
        "--contact-required", default="email_or_phone", metavar="FIELDS",
        help="Fields the contact form requires, comma-separated, of name, email, phone and email_or_phone "
             "(at least one of the two). Default: email_or_phone.",
    )
    site.add_argument(
        "--consent-text", action="append", default=[], metavar="[LANG=]TEXT",
        help="The consent the contact form asks for (stored with each message): TEXT in every language, LANG=TEXT "
             "in one; repeatable. Default: the widget's own wording.",
    )
    site.add_argument("--privacy-url", default=None, metavar="URL", help="The site's privacy policy, linked next to the consent.")
    site.add_argument(
        "--notify-email", default=None, metavar="EMAIL",
        help="Where new contact-form and offline messages are emailed. Default: every active operator.",
    )
    site.add_argument(
        "--default-country", default=None, metavar="CC",
        help="Two-letter country (e.g. KZ) in which phone numbers typed without a country code are read. "
             "Default: the country of the visitor's IP address.",
    )
    site.add_argument(
        "--prechat", choices=("off", "optional", "required"), default="off",
        help="The widget's pre-chat form: off, optional (the visitor may skip it) or required before the first "
             "message. Default: off.",
    )
    site.add_argument(
        "--prechat-fields", default="name,email", metavar="FIELDS",
        help="What the pre-chat form asks, comma-separated from name, email, phone. Default: name,email.",
    )
    site.add_argument(
        "--anonymize-ips", action="store_true",
        help="Store visitors' IP addresses anonymised (IPv4 last octet, IPv6 last 80 bits zeroed); the country "
             "is still looked up from the full address first.",
    )
    site.add_argument(
        "--allow-duplicate-name", action="store_true",
        help="Create the site even if another site already has this name (refused by default).",
    )

    secret = command(
        "show-identity-secret",
        "Print a site's identity secret: your server signs logged-in users' ids with it (user_hash, docs/leads.md).",
    )
    secret.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    _callback_flags(site)
    callbacks = command(
        "set-callbacks", "Change a site's callback requests: on/off, business hours, time zone, days off, slots.",
        epilog="Only the options given change. See docs/callbacks.md.",
    )
    callbacks.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    callbacks.add_argument(
        "--default-country", default=None, metavar="CC",
        help="The site's country, e.g. KZ ('' clears it): the phone picker's default and the region of numbers "
             "typed without a country code.",
    )
    _callback_flags(callbacks)

    change = command("update-site", "Change a site's launcher placement and page-view settings.")
    change.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    change.add_argument("--offset-x", default=None, metavar="PX", help="The launcher's distance from the side, CSS px (0-1000).")
    change.add_argument("--offset-y", default=None, metavar="PX", help="The launcher's distance from the bottom, CSS px (0-1000).")
    for flag, what in [("consent-required", "consent mode"), ("live-visitors", "every page view live")]:
        change.add_argument(f"--{flag}", dest=flag.replace("-", "_"), action="store_true", default=None, help=f"Turn {what} on.")
        change.add_argument(f"--no-{flag}", dest=flag.replace("-", "_"), action="store_false", help=f"Turn {what} off.")

    webhook = command("create-webhook", "Send a site's events to a URL as signed webhooks; prints the signing secret.")
    webhook.add_argument("site", help="The site's key (fd_…), as create-site printed it.")
    webhook.add_argument("url", help="The receiver's http(s) URL.")
    webhook.add_argument(
        "--event", action="append", default=[], metavar="TYPE",
        help=f"An event type to send (repeatable): {', '.join(EVENT_TYPES)}. Default: all of them.",
    )
    webhook.add_argument("--description", default=None, help="A note on what the endpoint is for.")

    faq = commands.add_parser(
        "faq", help="Import or export a site's FAQ (CSV, JSON, or a folder of Markdown files).",
        description="Import or export a site's FAQ (CSV, JSON, or a folder of Markdown files).",
    )
    faq_commands = faq.add_subparsers(dest="faq_command", metavar="import|export", required=True, parser_class=_Parser)
    faq_import = faq_commands.add_parser(
        "import", help="Add or update articles from PATH: a .csv (header question,answer,category,lang), a .json "
        "list, or a folder of .md files with front matter. The same question and language updates its article.",
    )
    _add_settings(faq_import, "faq")
    faq_import.add_argument("path", help="The CSV or JSON file, or the folder of Markdown files.")
    faq_import.add_argument("--site", required=True, metavar="SITE_KEY", help="The site's key (fd_…).")
    faq_export = faq_commands.add_parser("export", help="Write a site's articles as CSV, JSON or Markdown files.")
    _add_settings(faq_export, "faq")
    faq_export.add_argument("--site", required=True, metavar="SITE_KEY", help="The site's key (fd_…).")
    faq_export.add_argument("--format", choices=("csv", "json", "md"), default="csv", help="Default: csv.")
    faq_export.add_argument("--out", default=None, metavar="PATH",
                            help="A file (csv, json; default: standard output) or a folder (md, required).")

    listing = command("list-webhooks", "List webhook endpoints.")
    listing.add_argument("--site", default=None, help="Only this site's (its key).")
    return parser


def _callback_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("callback requests (docs/callbacks.md)")
    group.add_argument("--callbacks", dest="callbacks", action="store_true", default=None,
                       help="Offer the widget's \"Call me back\" tab.")
    group.add_argument("--no-callbacks", dest="callbacks", action="store_false", help="Stop offering it.")
    group.add_argument("--callback-tz", default=None, metavar="ZONE",
                       help="IANA time zone of the business hours, e.g. Europe/Kyiv. Default: UTC.")
    group.add_argument("--callback-hours", default=None, metavar="SPEC",
                       help="Business hours per weekday, e.g. 'mon-fri=09:00-18:00;sat=10:00-14:00'. "
                            "Default: mon-fri=09:00-18:00.")
    group.add_argument("--callback-days-off", default=None, metavar="DATES",
                       help="Days off and holidays as YYYY-MM-DD, comma-separated (replaces the list; '' clears it).")
    group.add_argument("--callback-slot-minutes", default=None, metavar="MIN",
                       help="Slot length: 10, 15, 20, 30, 45, 60, 90 or 120. Default: 30.")
    group.add_argument("--callback-lead-minutes", default=None, metavar="MIN",
                       help="No slot starts sooner than this many minutes from now. Default: 60.")
    group.add_argument("--callback-capacity", default=None, metavar="N",
                       help="Callbacks one slot holds. Default: 1.")
    group.add_argument("--callback-countries", default=None, metavar="CC,CC",
                       help="Phone countries the site calls, e.g. KZ,RU,UA ('' for any). Default: any.")


def callback_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The callback flags given, under services.callbacks.check_settings' names."""
    return {
        "enabled": args.callbacks, "tz": args.callback_tz, "hours": args.callback_hours,
        "days_off": args.callback_days_off, "slot_minutes": args.callback_slot_minutes,
        "lead_minutes": args.callback_lead_minutes, "capacity": args.callback_capacity,
        "country": getattr(args, "default_country", None), "countries": args.callback_countries,
    }


def settings_from(args: argparse.Namespace) -> Settings:
    names = {f.name for f in Settings.fields()}
    return Settings.from_env(**{k: v for k, v in vars(args).items() if k in names and v is not None})


