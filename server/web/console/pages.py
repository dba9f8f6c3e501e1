"""Console screens: the inbox and the sites list (with each site's snippet)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...services import sites
from ...locales import date_names
from ..context import app_state, base_url
from .auth_cookies import csrf_token, current_operator
from .language import console_language
from .rendering import render_page
from .roles import signed_in


@dataclass(frozen=True)
class SiteRow:
    name: str
    key: str
    allowed_origins: list[str]
    snippet: str


def snippet(base: str, key: str) -> str:
    """The one tag a site owner pastes."""
    return f'<script async src="{base}/embed.js" data-site-key="{key}"></script>'


def console_data(request: Request, operator: Any, page: str) -> dict[str, Any]:
    lang = console_language(request, operator)
    return {
        "i18n": app_state(request).catalogs.messages[lang],
        "dates": date_names(lang),  # Chromium's Intl has no Kazakh: names and patterns from CLDR
        "operator": operator.public() if operator else None,
        "csrf_token": csrf_token(request)[0],
        "page": page,
        "lang": lang,
    }


async def inbox(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return await render_page(
        request, "console/inbox.html", {"console_data": console_data(request, operator, "inbox")}, operator=operator
    )


async def sites_page(request: Request) -> Response:
    return await render_sites(request)


async def render_sites(request: Request, extra: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """The sites list (with the add-a-site form: ``extra`` carries its errors and values)."""
    operator = signed_in(request)  # an admin: routes.py guards every admin path
    base = base_url(request)
    rows = [
        asdict(SiteRow(s.name, s.key, list(s.allowed_origins), snippet(base, s.key)))
        for s in await sites.list_sites(app_state(request).db)
    ]
    context = {"sites": rows, "console_data": console_data(request, operator, "sites"), "errors": {}, "form": {},
               **(extra or {})}
    return await render_page(request, "console/sites.html", context, operator=operator, status_code=status_code)


async def home(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=303)
