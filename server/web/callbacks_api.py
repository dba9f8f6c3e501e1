"""Widget HTTP for callback requests: the slots on offer, a request, the visitor's
pending ones, a cancel. Origin-checked like the rest of the widget API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, Invalid, RateLimited
from ..locales import LANGUAGES
from ..security import VisitorClaim
from ..services import callback_words, callbacks, geo, rates
from ..store.db import utcnow
from ..store.sites import Site
from .addresses import client_address
from .context import app_state, language
from .responses import error_body, error_response
from .widget_api import _cors, _site_for, read_json

MAX_DAYS = 15


def _error(request: Request, exc: FrontdeskError, lang: str, **extra: Any) -> JSONResponse:
    """The error in the caller's language; a phone's country is named in it too."""
    region = exc.params.get("region") if isinstance(exc, Invalid) else None
    if region is not None:
        exc.params["country"] = callback_words.region_name(lang, region) if region else "—"
    body = error_body(request, exc, lang)
    body.update(extra)
    headers = _cors(request)
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"error": body}, status_code=exc.status, headers=headers)


async def _read_rate(request: Request) -> None:
    state = app_state(request)
    await rates.check_per_minute(
        state.throttle, "callback_reads", client_address(request) or "-",
        per_minute=state.settings.callback_reads_per_minute, reason="callbacks",
    )


@dataclass
class _Asked:
    """A widget POST's language and zone as far as they are known: an error in a later step
    is said in the visitor's language all the same."""

    lang: str
    tz: Any
    site: Site | None = None


async def _visitor_post(request: Request, asked: _Asked) -> tuple[Site, dict[str, Any], VisitorClaim]:
    """The site, the JSON body (its ``language`` and ``tz`` into ``asked``) and the visitor's token."""
    asked.site = site = await _site_for(request)
    data = await read_json(request)
    if isinstance(data.get("language"), str):
        asked.lang = language(request, data["language"])
    asked.tz = callbacks.visitor_zone(data.get("tz"))
    claim = app_state(request).signer.read_visitor_token(data.get("token"), site_id=site.id)
    return site, data, claim


def _first_day(value: str | None, tz: Any) -> date:
    today = utcnow().astimezone(tz).date()
    if not value:
        return today
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise Invalid(field="from") from None
    if not today - timedelta(days=1) <= day <= today + timedelta(days=MAX_DAYS):
        raise Invalid(field="from")
    return day


async def slots(request: Request) -> Response:
    """GET …/callbacks/slots?tz=Asia/Almaty&from=2026-03-30&days=7&lang=kk[&countries=1]"""
    state = app_state(request)
    lang = language(request)
    try:
        site = await _site_for(request)
        await _read_rate(request)
        tz = callbacks.visitor_zone(request.query_params.get("tz"))
        days_raw = request.query_params.get("days", "7")
        days = int(days_raw) if days_raw.isdigit() else 0
        if not 1 <= days <= MAX_DAYS:
            raise Invalid(field="days", max=MAX_DAYS)
        first = _first_day(request.query_params.get("from"), tz)
        body = await callback_words.offer(
            state.db, site, lang, tz, first, days, operators_online=state.presence.online(site.id)
        )
        if request.query_params.get("countries") == "1":
            body["countries"] = callback_words.country_names(lang)
            body["accepted"] = sorted(callbacks.accepted_regions(site))
        # The phone picker's default when the site has no country and the browser's locale names none.
        body["visitor_country"] = geo.country_of(client_address(request))
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=lang)
    return JSONResponse(body, headers={**_cors(request), "Cache-Control": "no-store"})


async def create(request: Request) -> Response:
    """POST …/callbacks {token, id, phone, country, name?, note?, slot | asap, tz, language}"""
    state = app_state(request)
    asked = _Asked(language(request), callbacks.visitor_zone(None))
    try:
        site, data, claim = await _visitor_post(request, asked)
        await callbacks.check_request_rate(
            state.throttle, claim.visitor_id, per_minute=state.settings.callback_requests_per_minute
        )
        checked = callbacks.check_request(data, site, LANGUAGES)
        callback, created = await callbacks.request_callback(
            state.writer, site, claim, checked, operators_online=state.presence.online(site.id)
        )
    except FrontdeskError as exc:
        extra: dict[str, Any] = {}
        site, lang, tz = asked.site, asked.lang, asked.tz
        if site is not None and exc.field == "slot" and exc.reason in ("full", "too_soon", "past"):
            # Somebody else took the last place (or time moved on): the next free slots.
            offer = await callback_words.offer(
                state.db, site, lang, tz, utcnow().astimezone(tz).date(), 3,
                operators_online=state.presence.online(site.id),
            )
            extra["next_slots"] = [
                {**s, "day": d["label"]} for d in offer["days"] for s in d["slots"]
            ][:6]
        return _error(request, exc, lang, **extra)
    view = callback_words.callback_view(callback, asked.lang, asked.tz, site)
    return JSONResponse(
        {"callback": view, "created": created}, status_code=201 if created else 200,
        headers={**_cors(request), "Cache-Control": "no-store"},
    )


async def pending(request: Request) -> Response:
    """POST …/callbacks/pending {token, tz, language, user_id?, user_hash?}: the visitor's
    callbacks still to come (with a verified identity: those of the same user anywhere)."""
    state = app_state(request)
    asked = _Asked(language(request), callbacks.visitor_zone(None))
    try:
        await _read_rate(request)
        site, data, claim = await _visitor_post(request, asked)
        user_id = callbacks.verified_identity(site, data)
        found = await callbacks.pending_for_visitor(state.db, claim, user_id, site)
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=asked.lang)
    return JSONResponse(
        {"callbacks": [callback_words.callback_view(c, asked.lang, asked.tz, site) for c in found]},
        headers={**_cors(request), "Cache-Control": "no-store"},
    )


async def cancel(request: Request) -> Response:
    """POST …/callbacks/{id}/cancel {token, tz, language, user_id?, user_hash?}"""
    state = app_state(request)
    asked = _Asked(language(request), callbacks.visitor_zone(None))
    try:
        site, data, claim = await _visitor_post(request, asked)
        await callbacks.check_request_rate(
            state.throttle, claim.visitor_id, per_minute=state.settings.callback_requests_per_minute
        )
        callback = await callbacks.cancel_by_visitor(
            state.writer, site, claim, request.path_params["callback_id"], callbacks.verified_identity(site, data)
        )
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=asked.lang)
    return JSONResponse(
        {"callback": callback_words.callback_view(callback, asked.lang, asked.tz, site)},
        headers={**_cors(request), "Cache-Control": "no-store"},
    )
