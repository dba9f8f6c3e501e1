"""Widget HTTP: the contact form (origin rules as for the other widget endpoints)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, NotFound
from ..services import contact
from ..store.sites import Site
from .addresses import client_address
from .context import app_state, base_url, language
from .responses import error_response
from .widget_api import _cors, _site_for, read_json


async def submit(request: Request) -> Response:
    """POST {id, name?, email?, phone?, message, consent: true, copy?, ticket, token?, language?,
    page?: {url}} → {submission: {id, conversation_id, created_at}, token, created}."""
    state = app_state(request)
    lang = language(request)
    site: Site | None = None
    try:
        site = await _site_for(request)
        if not site.contact_enabled:
            raise NotFound(field="contact")
        data = await read_json(request)
        lang = language(request, data.get("language") if isinstance(data.get("language"), str) else None)
        settings = state.settings
        contact.check_robot(state.signer, site, data, min_fill_seconds=settings.contact_min_fill_seconds)
        checked = contact.check_fields(site, data, region=contact.LANGUAGE_REGIONS.get(lang))
        repeat = await contact.find(state.db, site, checked.client_id)
        if repeat is None:  # a repeat (double click, a retry after a lost answer) costs no rate
            limits = contact.Limits(
                settings.contact_per_ip_per_hour, settings.contact_per_site_per_minute, settings.contact_min_fill_seconds
            )
            await contact.check_rates(state.throttle, site, client_address(request) or "-", limits)
        page = data.get("page") if isinstance(data.get("page"), dict) else {}
        consent = contact.consent_text(site, lang, state.catalogs.translate(lang, "contact.consent_default"))
        done = await contact.submit(
            state.writer, state.signer, site, checked, token=data.get("token"), lang=lang, consent=consent,
            ip=client_address(request), user_agent=request.headers.get("user-agent"), page_url=page.get("url"),
            email_on=settings.email_enabled, console_url=base_url(request) + "/console/",
        )
    except FrontdeskError as exc:
        return error_response(request, exc, headers=_cors(request), lang=lang)
    body = {
        "submission": {
            "id": done.submission.id, "conversation_id": done.submission.conversation_id,
            "created_at": done.submission.public()["created_at"],
        },
        "token": done.token,
        "created": done.created,
    }
    return JSONResponse(body, headers={**_cors(request), "Cache-Control": "no-store"})
