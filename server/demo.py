"""`frontdesk demo`: a sample third-party website on its own origin, and the data it needs."""

from __future__ import annotations

import json
import secrets
from datetime import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .assets import asset_path
from .files import write_private
from .catalogs import pick_language
from .locales import LANGUAGES, format_time, weekday_names
from .services import operators, sites
from .state import AppState
from .store.sites import Site

# The demo site is the demo website's own: its name, its brand colour (the page's buttons
# use it too) and a greeting in each language the widget speaks.
DEMO_SITE_NAME = "Aurora Coffee Roasters"
DEMO_BRAND_COLOR = "#a0561a"
DEMO_GREETINGS = {
    "": "Hi! Questions about our coffee, grinding or delivery? Write to us here.",
    "en": "Hi! Questions about our coffee, grinding or delivery? Write to us here.",
    "ru": "Здравствуйте! Есть вопросы о нашем кофе, помоле или доставке? Напишите нам здесь.",
    "uk": "Вітаємо! Маєте запитання про нашу каву, помел чи доставку? Напишіть нам тут.",
    "kk": "Сәлеметсіз бе! Кофеміз, ұнтақтау немесе жеткізу туралы сұрағыңыз бар ма? Бізге осында жазыңыз.",
}
# The demo site's name in data directories made before it was renamed.
_EARLIER_DEMO_SITE_NAMES = ("Demo site",)
# Where a demo run leaves its site's key, so the next run (on any ports) finds the same site.
DEMO_SITE_KEY_FILE = "demo-site-key"
PAGES = {"": "index.html", "index.html": "index.html", "pricing.html": "pricing.html", "contact.html": "contact.html"}


async def prepare_demo(state: AppState, demo_port: int, email: str, password: str | None) -> tuple[Site, str]:
    """The demo site (allowed on the demo port) and an operator; returns the site and password.

    A restart with the same data directory, on any ports, finds the same site again (its
    key is kept in the data directory) and moves its allowed origins to the new demo
    port, so earlier conversations stay with it. The operator's password is re-hashed
    only when it changes (a new hash ends their console sessions): without one given, the
    last run's is kept; a given one that already matches is left alone.
    """
    origins = [f"http://127.0.0.1:{demo_port}", f"http://localhost:{demo_port}"]
    site = await _find_demo_site(state)
    if site is None:
        site = await sites.create_site(
            state.writer, DEMO_SITE_NAME, origins, color=DEMO_BRAND_COLOR, greeting=DEMO_GREETINGS,
            allow_duplicate_name=True,
        )
    elif set(site.allowed_origins) != set(origins):
        site = await sites.set_allowed_origins(state.writer, site, origins)
    write_private(_data_file(state, DEMO_SITE_KEY_FILE), site.key)

    remembered = _data_file(state, "demo-operator-password")
    kept = remembered.read_text().strip() if remembered.exists() else None
    for candidate in (password,) if password is not None else (kept,):
        if candidate and await operators.authenticate(state.db, state.signer, email, candidate) is not None:
            if candidate != kept:
                write_private(remembered, candidate)
            return site, candidate
    password = password or secrets.token_urlsafe(9)
    if await operators.set_password(state.writer, state.signer, email, password) is None:
        await operators.create_operator(state.writer, state.signer, email, password, name="Demo Operator")
    write_private(remembered, password)
    return site, password


async def _find_demo_site(state: AppState) -> Site | None:
    """The site an earlier demo run in this data directory made: by the key it left there,
    else (data directories from before the key was kept) the oldest site of the demo's
    name, today's or the one it had before. A site found keeps its colour and greetings."""
    marker = _data_file(state, DEMO_SITE_KEY_FILE)
    if marker.exists():
        site = await sites.site_by_key(state.db, marker.read_text().strip())
        if site is not None:
            return site
    every = await sites.list_sites(state.db)
    for name in (DEMO_SITE_NAME, *_EARLIER_DEMO_SITE_NAMES):
        site = next((s for s in every if s.name == name), None)
        if site is not None:
            return site
    return None


def _data_file(state: AppState, name: str) -> Path:
    return Path(state.settings.data_dir) / name


def demo_texts(lang: str) -> dict[str, str]:
    """The demo website's own strings (demo_site/i18n/<lang>.json), with its opening hours
    said the way ``lang`` says weekdays and times (Babel)."""
    texts: dict[str, str] = json.loads(asset_path("demo_site", "i18n", f"{lang}.json").read_text(encoding="utf-8"))
    days = weekday_names(lang)
    texts["contact.hours"] = texts["contact.hours"].format(
        first=days[0], last=days[5], opens=format_time(lang, time(8, 0)), closes=format_time(lang, time(18, 0))
    )
    return texts


def create_demo_app(frontdesk_url: str, site_key: str) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(asset_path("demo_site"))), autoescape=select_autoescape(default=True))
    texts = {lang: demo_texts(lang) for lang in LANGUAGES}

    async def page(request: Request) -> Response:
        name = PAGES.get(request.path_params.get("page", ""))
        if name is None:
            return HTMLResponse("Not found", status_code=404)
        try:
            template = env.get_template(name)
        except TemplateNotFound:
            return HTMLResponse("Not found", status_code=404)
        # A multilingual site: ?lang= (the switcher's links), else the browser's language;
        # the snippet says the page's language so the widget matches it.
        lang = pick_language(request.query_params.get("lang"), accept_language=request.headers.get("accept-language"))
        context: dict[str, Any] = {
            "frontdesk_url": frontdesk_url, "site_key": site_key, "lang": lang, "t": texts[lang],
            "languages": LANGUAGES, "names": {code: texts[code]["language.name"] for code in LANGUAGES},
            "page": name if name != "index.html" else "", "brand_color": DEMO_BRAND_COLOR,
        }
        return HTMLResponse(template.render(**context))

    return Starlette(routes=[Route("/", page), Route("/{page}", page)])
