"""CSV downloads from the console: the Leads page's current filter, and one conversation's
transcript (services/csv_export.py makes the files). Per-operator rate limit; both bounded."""

from __future__ import annotations

from datetime import date
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from ...errors import FrontdeskError, RateLimited
from ...services import chat, csv_export, rates, search, sites
from ...store.db import iso
from ...store.operators import Operator
from ...store.search import Hit
from ..context import app_state
from .auth_cookies import current_operator
from .language import console_language

LEADS_MAX = 10_000  # leads in one file: more are left out (the header says so); narrow the filter
TRANSCRIPT_MAX = 50_000  # messages in one transcript file
_PAGE = 1000  # messages read at a time while streaming a transcript
LEAD_COLUMNS = [
    "lead_id", "site", "name", "email", "phone", "status", "lost_reason", "owner", "tags", "country", "city",
    "utm_source", "utm_medium", "utm_campaign", "referrer", "landing_url", "first_seen_utc", "last_seen_utc",
    "conversations",
]
TRANSCRIPT_COLUMNS = ["seq", "time_utc", "author", "author_name", "text"]


def _refusal(request: Request, operator: Operator, exc: FrontdeskError) -> Response:
    """A download link's error: plain text in the operator's language (the link opened it)."""
    lang = console_language(request, operator)
    message = app_state(request).catalogs.first(lang, exc.message_keys, **exc.message_params)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) and exc.retry_after else None
    return PlainTextResponse(message, status_code=exc.status, headers=headers)


async def _count(request: Request, operator: Operator) -> None:
    state = app_state(request)
    await rates.check_per_minute(state.throttle, "csv_exports", str(operator.id),
                                 per_minute=state.settings.csv_exports_per_minute, reason="exports")


def _attachment(name: str, more: bool = False) -> dict[str, str]:
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store",
               "X-Content-Type-Options": "nosniff"}
    if more:
        headers["X-Frontdesk-Truncated"] = str(LEADS_MAX)
    return headers


def lead_line(hit: Hit) -> list[Any]:
    lead = hit.lead
    return [
        lead["id"], lead["site_name"], lead["name"], lead["email"], lead["phone"], lead["status"],
        lead.get("lost_reason"), lead["owner_name"], ", ".join(lead["tags"]), lead["country"], lead["city"],
        lead["utm_source"], lead["utm_medium"], lead["utm_campaign"], lead["referrer"], lead["landing_url"],
        csv_export.utc_text(lead["first_seen_at"]), csv_export.utc_text(lead["last_seen_at"]), lead["conversations"],
    ]


async def leads_csv(request: Request) -> Response:
    """GET /console/leads/export.csv?<the Leads page's filter>&sep=semicolon|comma"""
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    state = app_state(request)
    try:
        delimiter = csv_export.separator(request.query_params.get("sep"))
        criteria = search.check_criteria(request.query_params)
        await _count(request, operator)
        visible = [s for s in await sites.list_sites(state.db) if operator.may_see_site(s.id)]
        regions = search.regions_for(visible, criteria.site_id)
        hits, more = await search.export_rows(state.db, criteria, site_ids=operator.site_ids, regions=regions,
                                              limit=LEADS_MAX, writer=state.writer)
    except FrontdeskError as exc:
        return _refusal(request, operator, exc)
    body = csv_export.lines(LEAD_COLUMNS, (lead_line(h) for h in hits), delimiter=delimiter)
    name = f"leads-{date.today().isoformat()}.csv"
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=_attachment(name, more))


async def transcript_csv(request: Request) -> Response:
    """GET /console/conversations/{id}/transcript.csv?sep=…: the chat as the visitor saw it
    (visitor and operator messages). Private notes and system lines are left out: a
    transcript is often forwarded, and notes never leave the operators."""
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    db = app_state(request).db
    conversation_id = request.path_params["conversation_id"][:64]
    try:
        delimiter = csv_export.separator(request.query_params.get("sep"))
        await _count(request, operator)
        first = await chat.conversation_messages(db, conversation_id, operator.site_ids)  # NotFound if not theirs
    except FrontdeskError as exc:
        return _refusal(request, operator, exc)

    async def body() -> AsyncIterator[bytes]:
        yield csv_export.chunk([TRANSCRIPT_COLUMNS], delimiter=delimiter, bom=True)
        batch, sent = first, 0
        while batch and sent < TRANSCRIPT_MAX:
            batch = batch[: TRANSCRIPT_MAX - sent]
            yield csv_export.chunk(
                ([m.seq, csv_export.utc_text(iso(m.created_at)), m.author_kind, m.author_name, m.body]
                 for m in batch), delimiter=delimiter,
            )
            sent += len(batch)
            if len(batch) < _PAGE:
                break
            batch = await chat.messages_after(db, conversation_id, batch[-1].seq, limit=_PAGE)

    name = f"conversation-{conversation_id[:12]}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=_attachment(name))
