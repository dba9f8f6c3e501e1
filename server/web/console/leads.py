"""The console's leads: the Leads page (newest activity first; search and filters as a GET
form, services/search.py) and the lead card beside a conversation (JSON for
static/console/lead-card.js). CSV exports are in exports.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...errors import FrontdeskError, NotFound, RateLimited, Unauthorized
from ...locales import format_datetime
from ...services import leads, operators, phones, rates, search, sites
from ...services.search import Criteria
from ...store.operators import Operator
from ...store.search import Hit, Match
from ...store.sites import Site
from ..context import app_state
from ..responses import error_response
from . import exports
from .auth_cookies import current_operator
from .language import console_language
from .pages import console_data
from .rendering import render_page


@dataclass(frozen=True)
class LeadRow:
    """One line of the Leads page; every value is text the template escapes."""

    id: str
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
    owner_name: str | None = None
    tags: list[str] = field(default_factory=list)
    # The matching message or private note: (text, highlighted) pieces, who wrote it, where.
    snippet: list[tuple[str, bool]] | None = None
    snippet_kind: str | None = None  # visitor | operator | note | lead_note
    snippet_conversation: str | None = None  # None: a note on the lead (its page is the link)


def _source(lead: dict[str, Any]) -> str | None:
    if lead["utm_source"]:
        return " / ".join(v for v in (lead["utm_source"], lead["utm_medium"]) if v)
    return urlsplit(lead["referrer"]).hostname if lead["referrer"] else None


def lead_row(lead: dict[str, Any], lang: str, **extra: Any) -> LeadRow:
    seen = lead["last_seen_at"]
    return LeadRow(
        id=lead["id"], name=lead["name"], email=lead["email"], phone=phones.display(lead["phone"]) if lead["phone"] else None,
        country=lead["country"], city=lead["city"], source=_source(lead), campaign=lead["utm_campaign"],
        last_seen=format_datetime(lang, datetime.fromisoformat(seen)) if seen else "", last_seen_iso=seen,
        status=lead["status"], site_name=lead["site_name"], conversations=lead.get("conversations", 0), **extra,
    )


def hit_row(hit: Hit, match: Match, lang: str) -> LeadRow:
    found = hit.message or hit.note
    extra: dict[str, Any] = {"owner_name": hit.lead["owner_name"], "tags": hit.lead["tags"]}
    if found is not None and match.words:
        extra.update(
            snippet=search.snippet(found["body"], match),
            snippet_kind=(found["author_kind"] if hit.message is not None
                          else "lead_note" if found["kind"] == "lead_note" else "note"),
            snippet_conversation=found["conversation_id"],
        )
    return lead_row(hit.lead, lang, **extra)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class LeadsPage:
    """The Leads page: the search form as given, its choices, a page of results."""

    leads: list[LeadRow]
    criteria: dict[str, str]  # the form's values, as typed
    searched: bool
    sites: list[Choice]
    owners: list[Choice]
    statuses: list[Choice]
    tags: list[str]
    error: str | None
    error_field: str | None
    page: int
    prev_url: str | None
    next_url: str | None
    export_args: list[tuple[str, str]]  # the current filter, for the export form's hidden fields
    export_max: int
    console_data: dict[str, Any]


def _url(criteria: Criteria, page: int) -> str:
    return "/console/leads?" + urlencode(criteria.args(page=page if page > 1 else None))


async def _choices(request: Request, operator: Operator, criteria: Criteria) -> tuple[list[Site], list[Choice], list[str]]:
    state = app_state(request)
    visible = [s for s in await sites.list_sites(state.db) if operator.may_see_site(s.id)]
    owners = [
        Choice(str(o.id), o.name, criteria.owner_id == o.id)
        for o in await operators.list_operators(state.db) if o.active
    ]
    tags = await search.known_tags(state.db, operator.site_ids)
    return visible, owners, tags


async def leads_page(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    lang = console_language(request, operator)
    state = app_state(request)
    typed = {k: request.query_params.get(k, "")[:300] for k in ("q", "site", "status", "owner", "tag", "from", "to")}
    error: FrontdeskError | None = None
    criteria = Criteria()
    hits: list[LeadRow] = []
    more = False
    try:
        criteria = search.check_criteria(request.query_params)
        visible, owners, tags = await _choices(request, operator, criteria)
        if criteria.active:  # a plain list is the page as it always was; a search is counted
            await rates.check_per_minute(state.throttle, "lead_searches", str(operator.id),
                                         per_minute=state.settings.lead_searches_per_minute, reason="searches")
        results = await search.search(state.db, criteria, site_ids=operator.site_ids,
                                      regions=search.regions_for(visible, criteria.site_id), writer=state.writer)
        hits, more = [hit_row(h, results.match, lang) for h in results.hits], results.more
    except FrontdeskError as exc:
        error = exc
        visible, owners, tags = await _choices(request, operator, criteria)
    page = LeadsPage(
        leads=hits, criteria=typed, searched=criteria.active or error is not None,
        sites=[Choice(str(s.id), s.name, typed["site"] == str(s.id)) for s in visible],
        owners=owners, statuses=[Choice(s, s, typed["status"] == s) for s in search.STATUSES], tags=tags,
        error=state.catalogs.first(lang, error.message_keys, **error.message_params) if error else None,
        error_field=error.field if error else None, page=criteria.page,
        prev_url=_url(criteria, criteria.page - 1) if criteria.page > 1 else None,
        next_url=_url(criteria, criteria.page + 1) if more else None,
        export_args=criteria.args(), export_max=exports.LEADS_MAX,
        console_data=console_data(request, operator, "leads"),
    )
    status = 429 if isinstance(error, RateLimited) else 400 if error else 200
    return await render_page(request, "console/leads.html", asdict(page), operator=operator, status_code=status)


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
