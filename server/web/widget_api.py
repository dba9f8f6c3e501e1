"""Widget HTTP: site config for embed.js (CORS) and the panel's visitor session."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..catalogs import LANGUAGES, pick_language
from ..errors import Forbidden, FrontdeskError, Invalid, NotFound
from ..services import contact, sites, visitors
from ..store.sites import Site
from .addresses import client_address
from .context import app_state, language, own_origin
from .json_input import loads
from .responses import error_response


def _cors(request: Request) -> dict[str, str]:
    # Echoed for refused origins too, so embed.js can read and print the error; what a
    # refused origin may read is only that error.
    origin = request.headers.get("origin")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


def request_origin(request: Request) -> str | None:
    """The caller's origin. Browsers omit Origin on same-origin GETs (the panel's own
    config call) but say so in Sec-Fetch-Site."""
    origin = request.headers.get("origin")
    if origin is None and request.headers.get("sec-fetch-site") == "same-origin":
        return own_origin(request)
    return origin


async def _site_for(request: Request) -> Site:
    site = await sites.site_by_key(app_state(request).db, request.path_params["key"])
    if site is None:
        raise NotFound("site_not_found")
    if not sites.origin_allowed(site, request_origin(request), own_origin(request)):
        raise Forbidden("origin_not_allowed", origin=request.headers.get("origin") or "-")
    return site


async def site_config(request: Request) -> Response:
    site: Site | None = None
    try:
        site = await _site_for(request)
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request))
    # The greeting and the launcher's names in the language the widget will speak: the
    # page's (embed.js's data-lang), else the one the site forces, else the browser's.
    lang = pick_language(
        request.query_params.get("lang"), site.language, accept_language=request.headers.get("accept-language")
    )
    state = app_state(request)
    view = sites.widget_view(
        site, lang, offset_x=request.query_params.get("x"), offset_y=request.query_params.get("y"),
        consent=request.query_params.get("consent"),
        # The FAQ tab: switched on in the site's settings and something published.
        faq="faq" in sites.tab_switches(site) and await state.faq.has_published(site),
    )
    if view["contact"] is not None:  # what the form needs: consent in each language, a ticket timing it
        contact_view(state, site, view["contact"])
    body = {
        # offset_x/y: the script tag's data-offset-x/-y when given as CSS px, else the site's.
        "site": view,
        "operators_online": state.presence.online(site.id),
        # So that embed.js carries no translations; from the widget's own catalogues.
        "labels": state.catalogs.launcher_labels(lang),
    }
    return JSONResponse(body, headers={**_cors(request), "Cache-Control": "no-store"})


def contact_view(state: Any, site: Site, view: dict[str, Any]) -> None:
    view["consents"] = {
        code: contact.consent_text(site, code, state.catalogs.translate(code, "contact.consent_default"))
        for code in LANGUAGES
    }
    view["ticket"] = state.signer.form_ticket(site.id)


async def preflight(request: Request) -> Response:
    site = await sites.site_by_key(app_state(request).db, request.path_params["key"])
    headers = _cors(request)
    if site is not None and sites.origin_allowed(
        site, request.headers.get("origin"), own_origin(request)
    ):
        headers.update({"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "600"})
        return Response(status_code=204, headers=headers)
    return Response(status_code=403)


async def read_json(request: Request) -> dict[str, Any]:
    data = loads(await request.body() or b"null", root="body")
    if not isinstance(data, dict):
        raise Invalid(field="body")
    return data


async def start_visitor(request: Request) -> Response:
    state = app_state(request)
    site: Site | None = None
    lang = language(request)
    try:
        site = await _site_for(request)
        data = await read_json(request)
        lang = language(request, data.get("language") if isinstance(data.get("language"), str) else None)
        page = data.get("page") if isinstance(data.get("page"), dict) else {}
        if data.get("token") is None:  # a new visitor: limited per address
            await visitors.check_new_visitor_rate(
                state.throttle, client_address(request) or "-", per_minute=state.settings.new_visitors_per_ip_per_minute
            )
        session = await visitors.start_session(
            state.writer, state.signer, site, data.get("token"), language=data.get("language"),
            page_url=page.get("url"), ip=client_address(request), user_agent=request.headers.get("user-agent"),
            geo=state.geo,
        )
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=lang)
    body = {
        "token": session.token,
        "visitor": session.visitor.public(),
        "conversation": session.conversation,
        "operators_online": state.presence.online(site.id),
    }
    return JSONResponse(body, headers={**_cors(request), "Cache-Control": "no-store"})
