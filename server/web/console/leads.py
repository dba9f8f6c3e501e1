"""The console's leads: the Leads page (newest activity first) and the lead card beside a
conversation (JSON for static/console/lead-card.js)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...errors import NotFound, Unauthorized
from ...locales import format_datetime
from ...services import leads, phones
from ..context import app_state
from ..responses import error_response
from .auth_cookies import current_operator
from .language import console_language
from .pages import console_data
from .rendering import render_page


@dataclass(frozen=True)
class LeadRow:
    """One line of the Leads page; every value is text the template escapes."""

    name: str | None
    email: str | None
    phone: str | None
    country: str | None
    city: str | None
    source: str | None  # utm_source / utm_medium, else the referrer's host
    campaign: str | None
    last_seen: str
    last_seen_iso: str | None
    status: str
    site_name: str
    conversations: int


def _source(lead: dict[str, Any]) -> str | None:
    if lead["utm_source"]:
        return " / ".join(v for v in (lead["utm_source"], lead["utm_medium"]) if v)
    return urlsplit(lead["referrer"]).hostname if lead["referrer"] else None


def lead_row(lead: dict[str, Any], lang: str) -> LeadRow:
    seen = lead["last_seen_at"]
    return LeadRow(
        name=lead["name"], email=lead["email"], phone=phones.display(lead["phone"]) if lead["phone"] else None,
        country=lead["country"], city=lead["city"], source=_source(lead), campaign=lead["utm_campaign"],
        last_seen=format_datetime(lang, datetime.fromisoformat(seen)) if seen else "", last_seen_iso=seen,
        status=lead["status"], site_name=lead["site_name"], conversations=lead["conversations"],
    )


async def leads_page(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    lang = console_language(request, operator)
    found = await leads.list_leads(app_state(request).db, site_ids=operator.site_ids)
    rows = [asdict(lead_row(lead, lang)) for lead in found]
    return await render_page(
        request, "console/leads.html", {"leads": rows, "console_data": console_data(request, operator, "leads")},
        operator=operator,
    )


def _shown(lead: dict[str, Any]) -> dict[str, Any]:
    return {**lead, "phone_display": phones.display(lead["phone"]) if lead.get("phone") else None}


async def lead_card(request: Request) -> Response:
    """GET /api/console/v1/visitors/{visitor_id}/lead: everything known about the person."""
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    # Another site's visitor, to an operator limited to some sites: not found, like any.
    card = await leads.lead_card(app_state(request).db, request.path_params["visitor_id"][:64], operator.site_ids)
    if card is None:
        return error_response(request, NotFound(field="visitor"))
    return JSONResponse({**card, "lead": _shown(card["lead"])}, headers={"Cache-Control": "no-store"})
