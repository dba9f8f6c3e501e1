"""Console FAQ screens (admins): a site's articles, the article form, publishing, and what
the FAQ lacks (searches with no result, answers voted "did not help"). Server-rendered
forms with the console's CSRF token; every field typed is shown back as text. The paths
are admin paths (roles.ADMIN_PATHS): the routes list puts the admin guard on each."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import FrontdeskError
from ...locales import LANGUAGES
from ...services import sites
from ...store.sites import Site
from ..context import app_state
from .auth_cookies import csrf_ok, form_data
from .language import console_language
from .pages import console_data
from .rendering import render_page
from .roles import signed_in


@dataclass(frozen=True)
class FaqPage:
    """What every FAQ screen shows: the sites to choose from and the chosen one."""

    sites: list[dict[str, str]]
    site_key: str | None
    site_name: str | None


async def _context(request: Request, key: str | None) -> tuple[FaqPage, Site | None]:
    every = await sites.list_sites(app_state(request).db)
    site = next((s for s in every if s.key == key), None) or (every[0] if every else None)
    page = FaqPage([{"key": s.key, "name": s.name} for s in every], site.key if site else None,
                   site.name if site else None)
    return page, site


def _list_url(key: str | None, *, saved: str | None = None) -> str:
    return f"/console/faq?site={quote(key or '')}" + (f"&saved={quote(saved)}" if saved else "")


async def articles_page(request: Request) -> Response:
    operator = signed_in(request)
    page, site = await _context(request, request.query_params.get("site"))
    faq = app_state(request).faq
    rows = [a.summary() for a in await faq.articles(site)] if site else []
    return await render_page(request, "console/faq.html", {
        **asdict(page), "articles": rows, "saved": request.query_params.get("saved"),
        "console_data": console_data(request, operator, "faq"),
    }, operator=operator)


async def gaps_page(request: Request) -> Response:
    operator = signed_in(request)
    page, site = await _context(request, request.query_params.get("site"))
    gaps = await app_state(request).faq.gaps(site) if site else []
    return await render_page(request, "console/faq_gaps.html", {
        **asdict(page), "gaps": gaps, "console_data": console_data(request, operator, "faq"),
    }, operator=operator)


_EMPTY = {"question": "", "answer": "", "category": "", "lang": "", "order": 0, "published": True, "phrasings": []}


async def article_form(request: Request) -> Response:
    """GET /console/faq/new?site=KEY (a question from the gaps may be given: ?question=…)
    and /console/faq/{article_id}?site=KEY."""
    operator = signed_in(request)
    page, site = await _context(request, request.query_params.get("site"))
    if site is None:
        return RedirectResponse("/console/faq", status_code=303)
    article_id = request.path_params.get("article_id")
    if article_id is not None:
        try:
            found = await app_state(request).faq.article(site, int(article_id), published_only=False)
        except (FrontdeskError, ValueError):
            return RedirectResponse(_list_url(site.key), status_code=303)
        values = {**found.exported(), "id": found.id}
    else:
        values = {**_EMPTY, "question": request.query_params.get("question", "")[:300],
                  "lang": request.query_params.get("lang") or console_language(request, operator)}
    return await _render_form(request, operator, page, values, None)


async def _render_form(request: Request, operator: Any, page: FaqPage, values: dict[str, Any],
                       error: dict[str, str] | None, status_code: int = 200) -> Response:
    return await render_page(request, "console/faq_form.html", {
        **asdict(page), "article": values, "languages": LANGUAGES, "error": error,
        "console_data": console_data(request, operator, "faq"),
    }, operator=operator, status_code=status_code)


async def save_article(request: Request) -> Response:
    """POST /console/faq/save: create or update, then back to the list."""
    operator = signed_in(request)
    form = await form_data(request)
    page, site = await _context(request, form.get("site"))
    state = app_state(request)
    lang = console_language(request, operator)
    values: dict[str, Any] = {
        "question": form.get("question", ""), "answer": form.get("answer", ""), "category": form.get("category", ""),
        "lang": form.get("lang", ""), "order": form.get("order", "0"), "published": form.get("published") == "on",
        "phrasings": [line.strip() for line in form.get("phrasings", "").splitlines() if line.strip()],
    }
    article_id = form.get("id", "")
    if article_id.isdigit():
        values["id"] = int(article_id)
    if site is None or not csrf_ok(request, form):
        error = {"message": state.catalogs.translate(lang, "csrf.failed"), "field": ""}
        return await _render_form(request, operator, page, values, error, status_code=403)
    try:
        article, _ = await state.faq.save(site, values, values.get("id"))
    except FrontdeskError as exc:
        message = state.catalogs.first(lang, exc.message_keys, **{
            **exc.message_params, "field": state.catalogs.translate(lang, f"faq.field.{exc.field}")})
        error = {"message": message, "field": exc.field or ""}
        return await _render_form(request, operator, page, values, error, status_code=400)
    return RedirectResponse(_list_url(site.key, saved=article.question), status_code=303)


async def publish(request: Request) -> Response:
    """POST /console/faq/{article_id}/publish: published=1 or 0."""
    form = await form_data(request)
    page, site = await _context(request, form.get("site"))
    if site is None or not csrf_ok(request, form):
        return RedirectResponse(_list_url(form.get("site")), status_code=303)
    try:
        await app_state(request).faq.set_published(site, int(request.path_params["article_id"]),
                                                   form.get("published") == "1")
    except (FrontdeskError, ValueError):
        pass  # gone meanwhile: the list shows what there is
    return RedirectResponse(_list_url(site.key), status_code=303)
