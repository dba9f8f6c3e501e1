"""Jinja2 rendering for console and demo pages: autoescaped, translated, CSP-safe."""

from __future__ import annotations

from functools import partial
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..assets import Assets, asset_path
from ..locales import LANGUAGES
from .context import app_state

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def make_environment(assets: Assets | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(asset_path("templates"))),
        autoescape=select_autoescape(default=True, default_for_string=True),
        enable_async=False,
    )
    # {{ asset("static/console/console.js") }}: the file's immutable, content-hashed URL.
    env.globals["asset"] = assets.url if assets is not None else (lambda name: "/" + name)
    return env


def render(
    request: Request, env: Environment, name: str, context: dict[str, Any], *, lang: str, csrf_token: str,
    status_code: int = 200,
) -> HTMLResponse:
    catalogs = app_state(request).catalogs
    full = {
        "t": partial(catalogs.translate, lang), "lang": lang, "languages": LANGUAGES, "csrf_token": csrf_token,
        "path": request.url.path, "operator": None, **context,
    }
    html = env.get_template(name).render(full)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
