"""The commands that change data: operators, visitors, sites, webhooks."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from ..config import Settings
from ..errors import NotFound
from .support import opened, url


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


async def create_operator(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import operators

    password = _password(args, "Password for the new operator: ")
    async with opened(settings) as state:
        operator = await operators.create_operator(
            state.writer, state.signer, args.email, password, name=args.name, role=args.role,
            site_keys=_site_keys(args.sites),
        )
    print(f"operator {operator.email} created (id {operator.id}, role {operator.role}, {_sites_said(operator)})")


def _site_keys(value: str | None) -> list[str] | None:
    """--sites KEY,KEY (or "all", or nothing: every site)."""
    if value is None or value.strip().lower() == "all":
        return None
    return [key.strip() for key in value.split(",") if key.strip()]


def _sites_said(operator: Any) -> str:
    return "every site" if operator.site_ids is None else f"{len(operator.site_ids)} site(s)"


async def change_operator(settings: Settings, args: argparse.Namespace) -> None:
    """set-password, set-role, set-sites, deactivate-operator, activate-operator, end-sessions."""
    from ..realtime.hub import announce_session_ended
    from ..services import operators

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
        elif args.command == "set-sites":
            operator, ended = await operators.set_sites(state.writer, args.email, _site_keys(args.sites))
            done = "every site" if _site_keys(args.sites) is None else f"sites {args.sites}"
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


async def revoke_visitor(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import visitors

    async with opened(settings) as state:
        if not await visitors.revoke_tokens(state.writer, args.visitor_id):
            raise NotFound(field="visitor")
    print(f"visitor {args.visitor_id}: every token revoked (open widgets are refused when they reconnect)")


def _greetings(values: list[str], field: str = "greeting") -> dict[str, str]:
    """--greeting TEXT / --greeting ru=TEXT as {"": TEXT, "ru": TEXT}; one per language."""
    import re

    from ..errors import Invalid

    texts: dict[str, str] = {}
    for value in values:
        match = re.match(r"([a-z]{2,3})=(.*)", value, re.S)
        lang, text = match.groups() if match else ("", value)
        if lang in texts:
            raise Invalid(field=field)
        texts[lang] = text
    return texts


async def create_site(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import callbacks, sites
    from ..web.console.pages import snippet
    from .parser import callback_settings

    callback_values = callback_settings(args)
    callbacks.check_settings(**callback_values)  # refused before the site is made
    async with opened(settings) as state:
        site = await sites.create_site(
            state.writer, args.name, args.origin, color=args.color, position=args.position,
            language=args.language, greeting=_greetings(args.greeting), offset_x=args.offset_x,
            offset_y=args.offset_y, live_visitors=args.live_visitors, consent_required=args.consent_required,
            allow_duplicate_name=args.allow_duplicate_name,
            contact=args.contact, contact_required=args.contact_required,
            consent_text=_greetings(args.consent_text, "consent_text"), privacy_url=args.privacy_url,
            notify_email=args.notify_email,
            default_country=args.default_country, prechat=args.prechat, prechat_fields=args.prechat_fields,
            anonymize_ips=args.anonymize_ips,
        )
        site = await callbacks.update_settings(state.writer, site, **callback_values)
    base = settings.public_url.rstrip("/")
    print(f"site {site.name!r} created\nkey: {site.key}")
    # For verified identities (user_hash = HMAC-SHA256(user_id, secret)): kept on the server side.
    print(f"identity secret: {site.identity_secret}")
    if base:
        print(f"snippet: {snippet(base, site.key)}")
        return
    # No public URL: this command cannot know where the running server is reached (it may
    # listen on another port, behind a proxy); say so rather than print a wrong address.
    guess = url(settings.host, settings.port)
    print(f"snippet: {snippet(guess, site.key)}")
    print(
        f"note: FRONTDESK_PUBLIC_URL is not set, so the snippet assumes the server at {guess} "
        f"(--host/--port of this command). Set FRONTDESK_PUBLIC_URL (or pass --public-url) to the address "
        "visitors' browsers reach the server at, e.g. https://chat.example.com, and the snippet will use it.",
        file=sys.stderr,
    )


async def show_identity_secret(settings: Settings, args: argparse.Namespace) -> None:
    from ..errors import NotFound
    from ..services import sites

    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, args.site)
    if site is None:
        raise NotFound(field="site")
    print(f"identity secret of {site.name!r} ({site.key}): {site.identity_secret}")
    print("user_hash = hex HMAC-SHA256(user_id, this secret), computed on your server (docs/leads.md)")
async def set_callbacks(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import callbacks, sites
    from .parser import callback_settings

    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, args.site)
        if site is None:
            raise NotFound(field="site")
        site = await callbacks.update_settings(state.writer, site, **callback_settings(args))
    state_word = "on" if site.callbacks_enabled else "off"
    print(
        f"site {site.name!r}: callbacks {state_word}; {site.callback_hours} ({site.callback_tz}); "
        f"slots of {site.callback_slot_minutes} min, {site.callback_capacity} per slot, "
        f"not sooner than {site.callback_lead_minutes} min; days off: {site.callback_days_off or 'none'}"
    )


async def update_site(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import sites

    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, args.site)
        if site is None:
            raise NotFound(field="site")
        site = await sites.update_site(
            state.writer, site, offset_x=args.offset_x, offset_y=args.offset_y,
            consent_required=args.consent_required, live_visitors=args.live_visitors,
        )
    print(
        f"site {site.name!r} ({site.key}): offset {site.offset_x},{site.offset_y} px, "
        f"consent required: {'yes' if site.consent_required else 'no'}, "
        f"live visitors: {'yes' if site.live_visitors else 'no'}"
    )


async def create_webhook(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import webhooks

    async with opened(settings) as state:
        endpoint = await webhooks.create_endpoint(
            state.writer, state.db, args.site, args.url, event_types=args.event, description=args.description,
            allow_private=settings.webhook_allow_private_networks,
        )
    print(
        f"webhook {endpoint.id} created\nurl: {endpoint.url}\nevents: {', '.join(endpoint.event_types)}\n"
        f"secret: {endpoint.secret}\n(verify deliveries with this secret; see docs/webhooks.md)"
    )


async def list_webhooks(settings: Settings, args: argparse.Namespace) -> None:
    from ..services import webhooks

    async with opened(settings) as state:
        endpoints = await webhooks.list_endpoints(state.db, args.site)
    for e in endpoints:
        state_word = "enabled" if e.enabled else "disabled"
        print(f"{e.id}\tsite {e.site_id}\t{state_word}\t{e.url}\t{','.join(e.event_types)}")


