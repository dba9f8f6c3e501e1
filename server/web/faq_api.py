"""Widget HTTP for the FAQ: search, one article's answer, and "did this help?".

Published FAQ is public: the origin rule (widget_api._site_for) holds for browsers, which
send an Origin; a server or curl without one is served, as a search engine would be.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..catalogs import pick_language
from ..errors import Forbidden, FrontdeskError, Invalid, NotFound
from ..services import rates, sites
from ..store.sites import Site
from .addresses import client_address
from .context import app_state, language, own_origin
from .responses import error_response
from .widget_api import _cors, read_json, request_origin


async def _public_site(request: Request) -> Site:
    site = await sites.site_by_key(app_state(request).db, request.path_params["key"])
    if site is None:
        raise NotFound("site_not_found")
    origin = request_origin(request)
    if origin is not None and not sites.origin_allowed(site, origin, own_origin(request)):
        raise Forbidden("origin_not_allowed", origin=origin)
    return site


async def _limit(request: Request) -> None:
    state = app_state(request)
    await rates.check_per_minute(state.throttle, "faq_searches", client_address(request) or "-",
                                 per_minute=state.settings.faq_searches_per_ip_per_minute)


def _lang(request: Request) -> str | None:
    raw = request.query_params.get("lang")
    if raw is None or raw == "":
        return None
    lang = pick_language(raw)
    if lang != raw.split("-")[0].lower():
        raise Invalid(field="lang", value=raw[:20])
    return lang


def _article_id(request: Request) -> int:
    raw = request.path_params["article_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(field="article")
    return int(raw)


def _json(request: Request, body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={**_cors(request), "Cache-Control": "no-store"})


async def search(request: Request) -> Response:
    """GET …/faq/search?q=TEXT&lang=LL → {"results": [{id, question, snippet, score, lang}]}."""
    state = app_state(request)
    try:
        site = await _public_site(request)
        await _limit(request)
        lang = _lang(request)
        query = request.query_params.get("q", "")
        results = await state.faq.search(site, query, lang)
        if not results:
            await state.faq.record_gap(site, "no_result", query, lang)
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=language(request))
    return _json(request, {"results": results})


async def article(request: Request) -> Response:
    """GET …/faq/articles/{id} → {id, question, answer_html, category, lang}."""
    state = app_state(request)
    try:
        site = await _public_site(request)
        await _limit(request)
        found = await state.faq.article(site, _article_id(request))
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=language(request))
    return _json(request, found.public())


async def feedback(request: Request) -> Response:
    """POST …/faq/articles/{id}/feedback {"helpful": bool, "query": "what was searched"}."""
    state = app_state(request)
    try:
        site = await _public_site(request)
        if request_origin(request) is None:  # a vote counts only from a page of the site
            raise Forbidden("origin_not_allowed", origin="-")
        await _limit(request)
        data = await read_json(request)
        lang = _lang(request)
        await state.faq.vote(site, _article_id(request), data.get("helpful"), data.get("query"), lang)
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=language(request))
    return _json(request, {"ok": True})
