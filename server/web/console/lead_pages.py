"""The lead pipeline's pages: the board (a column per status, /console/leads/board) and a
lead's page (/console/leads/{lead_id}: status, tags, owner, notes, its conversations).

Plain forms that work without script (POST …/pipeline with the CSRF token, then back
where the operator was); static/console/lead-pages.js keeps both pages live from the
console socket. Every value an operator or visitor typed is autoescaped text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import FrontdeskError, NotFound
from ...locales import format_datetime
from ...services import lead_pipeline, phones, rates, search, sites
from ...store.outbox import last_event_id
from ..context import app_state
from .auth_cookies import current_operator
from .forms import operator_post
from .language import console_language
from .pages import console_data
from .rendering import render_page


@dataclass(frozen=True)
class BoardCard:
    id: str
    name: str | None
    email: str | None
    phone: str | None
    site_name: str
    tags: list[str]
    owner: str | None
    lost_reason: str | None
    status: str


@dataclass(frozen=True)
class BoardColumn:
    status: str
    total: int
    cards: list[BoardCard]


@dataclass(frozen=True)
class BoardPage:
    columns: list[BoardColumn]
    statuses: list[str]
    error: str | None
    owner: str  # the owner filter: "" anyone, "me", "none"
    site: int | None  # the site filter
    tag: str  # the tag filter ("" any)
    sites: list[dict[str, Any]]  # the sites the operator may see: {id, name}
    tags: list[str]  # the tags in use on those sites (the tag filter's suggestions)
    query: str  # the filters as a query string, carried through the move forms
    console_data: dict[str, Any]


@dataclass(frozen=True)
class LeadPage:
    lead: dict[str, Any]  # the stored lead plus phone_display
    site_name: str | None
    pipeline: dict[str, Any]
    status_changed: str | None
    notes: list[dict[str, Any]]  # each with created, edited (formatted) and mine (may change it)
    owners: list[dict[str, Any]]
    conversations: list[dict[str, Any]]  # each with created (formatted)
    statuses: list[str]
    max_tags: int
    error: str | None
    console_data: dict[str, Any] = field(default_factory=dict)


def _when(lang: str, iso: str | None) -> str | None:
    return format_datetime(lang, datetime.fromisoformat(iso)) if iso else None


def _phone(value: str | None) -> str | None:
    return phones.display(value) if value else None


_WORD = re.compile(r"^[a-z_]{1,40}$")


def _error_query(exc: FrontdeskError) -> dict[str, str]:
    """What went wrong, as the redirect back carries it: the error's code, field, reason and
    limit, never its text (a link cannot make the page say anything the catalogue does not)."""
    found = {"error": exc.code, "field": exc.field or "", "reason": exc.reason or "", "max": str(exc.params.get("max", ""))}
    return {k: v for k, v in found.items() if v}


def _error(request: Request, lang: str) -> str | None:
    """The message for the error named in the query, in the operator's language."""
    query = request.query_params
    code, field, reason, limit = (query.get(k, "") for k in ("error", "field", "reason", "max"))
    if not _WORD.match(code) or any(v and not _WORD.match(v) for v in (field, reason)):
        return None
    params = {"max": int(limit)} if limit.isdigit() and len(limit) < 10 else {}
    exc = FrontdeskError(code, field=field or None, reason=reason or None, **params)
    return app_state(request).catalogs.first(lang, exc.message_keys, **exc.message_params)


async def _live_data(request: Request, operator: Any, page: str, **extra: Any) -> dict[str, Any]:
    """What the page's script needs besides the catalogue: where the socket resumes from."""
    position = await app_state(request).db.read(last_event_id)
    return {**console_data(request, operator, page), "last_event_id": position, **extra}


OWNER_FILTERS = ("", "me", "none")


def board_filters(query: Mapping[str, str]) -> tuple[str, int | None, str]:
    """The board's filters from a query: owner, site, tag (odd values are ignored, not
    refused; a tag is read as one is stored, so "VIP " finds "vip")."""
    owner = query.get("owner", "")
    site = query.get("site", "")
    try:
        tag = lead_pipeline.check_tag(query.get("tag", "")) if query.get("tag", "").strip() else ""
    except FrontdeskError:
        tag = ""
    return (owner if owner in OWNER_FILTERS else "",
            int(site) if site.isdigit() and 0 < len(site) < 10 else None, tag)


def board_query(owner: str, site: int | None, tag: str = "") -> str:
    return urlencode({k: v for k, v in (("owner", owner), ("site", site), ("tag", tag)) if v})


async def board_page(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    state = app_state(request)
    owner, site, tag = board_filters(request.query_params)
    columns = await lead_pipeline.board(state.db, operator, site_id=site, owner=owner, tag=tag or None)
    visible = [{"id": s.id, "name": s.name} for s in await sites.list_sites(state.db) if operator.may_see_site(s.id)]
    page = BoardPage(
        columns=[
            BoardColumn(status, column["total"], [
                BoardCard(lead["id"], lead["name"], lead["email"], _phone(lead["phone"]), lead["site_name"], lead["tags"],
                          lead["owner"]["name"] if lead["owner"] else None, lead["lost_reason"], status)
                for lead in column["leads"]
            ])
            for status, column in columns.items()
        ],
        statuses=list(lead_pipeline.STATUSES),
        error=_error(request, console_language(request, operator)),
        owner=owner, site=site, tag=tag, sites=visible, tags=await search.known_tags(state.db, operator.site_ids),
        query=board_query(owner, site, tag),
        console_data=await _live_data(request, operator, "board"),
    )
    return await render_page(request, "console/leads_board.html", asdict(page), operator=operator)


async def lead_page(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    lang = console_language(request, operator)
    try:
        view = await lead_pipeline.lead_view(app_state(request).db, operator, request.path_params["lead_id"])
    except NotFound:
        message = app_state(request).catalogs.translate(lang, "error.not_found.lead_id")
        return await render_page(request, "console/message.html", {"message": message}, operator=operator,
                                 status_code=404)
    lead = view["lead"]
    page = LeadPage(
        lead={**lead, "phone_display": _phone(lead["phone"])},
        site_name=view["site_name"],
        pipeline=view["pipeline"],
        status_changed=_when(lang, view["pipeline"]["status_changed_at"]),
        notes=[{**n, "created": _when(lang, n["created_at"]), "edited": _when(lang, n["edited_at"]),
                "mine": lead_pipeline.may_change_note(operator, n)}
               for n in reversed(view["notes"])],  # newest first
        owners=view["owners"],
        conversations=[{**c, "created": _when(lang, c["created_at"])} for c in view["conversations"]],
        statuses=list(lead_pipeline.STATUSES),
        max_tags=lead_pipeline.MAX_TAGS,
        error=_error(request, lang),
        console_data=await _live_data(request, operator, "lead", lead_id=lead["id"]),
    )
    return await render_page(request, "console/lead.html", asdict(page), operator=operator)


async def change(request: Request) -> Response:
    """POST /console/leads/{lead_id}/pipeline: action = status | owner | tag_add | tag_remove |
    note | note_edit | note_delete (with note_id); then back to the board (next=board) or the
    lead's page, with the error if any. Another operator's note (not an admin): 403."""
    post = await operator_post(request)
    if isinstance(post, Response):
        return post
    state = app_state(request)
    operator, lang, form = post.operator, post.lang, post.form
    lead_id = request.path_params["lead_id"][:64]
    action = form.get("action")
    try:
        await rates.check_per_minute(
            state.throttle, "operator_actions", str(operator.id), per_minute=state.settings.operator_actions_per_minute
        )
        if action == "status":
            await lead_pipeline.set_status(state.writer, operator, lead_id, form.get("status"), form.get("lost_reason"))
        elif action == "owner":
            await lead_pipeline.set_owner(state.writer, operator, lead_id, form.get("owner_id"))
        elif action == "tag_add":
            await lead_pipeline.add_tag(state.writer, operator, lead_id, form.get("tag"))
        elif action == "tag_remove":
            await lead_pipeline.remove_tag(state.writer, operator, lead_id, form.get("tag"))
        elif action == "note":
            await lead_pipeline.add_note(state.writer, operator, lead_id, form.get("body"))
        elif action == "note_edit":
            await lead_pipeline.edit_note(state.writer, operator, lead_id, form.get("note_id"), form.get("body"))
        elif action == "note_delete":
            await lead_pipeline.delete_note(state.writer, operator, lead_id, form.get("note_id"))
        else:
            raise NotFound(field="action")
        error = ""
    except FrontdeskError as exc:
        if isinstance(exc, NotFound) and exc.field == "lead_id":
            message = state.catalogs.translate(lang, "error.not_found.lead_id")
            return await render_page(request, "console/message.html", {"message": message}, operator=operator,
                                     status_code=404)
        if isinstance(exc, lead_pipeline.NoteNotYours):
            message = state.catalogs.first(lang, exc.message_keys, **exc.message_params)
            return await render_page(request, "console/message.html", {"message": message}, operator=operator,
                                     status_code=403)
        error = urlencode(_error_query(exc))
    if form.get("next") == "board":  # back to the board as filtered
        filters = board_filters({k: v[0] for k, v in parse_qs(form.get("board_query", "")[:200]).items()})
        query = "&".join(q for q in (board_query(*filters), error) if q)
        return RedirectResponse(f"/console/leads/board{'?' + query if query else ''}#lead-{quote(lead_id)}",
                                status_code=303)
    return RedirectResponse(f"/console/leads/{quote(lead_id)}{'?' + error if error else ''}", status_code=303)
