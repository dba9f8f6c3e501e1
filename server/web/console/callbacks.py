"""The console's callback queue: due now, overdue, today, upcoming; attempts with who
and when; done / no answer (call again in 15 min, 1 h, or at a slot) / wrong number /
cancelled; who is assigned, "take it" or give it to another operator of the site, and
the queue filtered to all / mine / nobody's. Plus each callback as .ics and the
operator's private calendar feed (their callbacks and nobody's)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ...errors import FrontdeskError
from ...locales import format_datetime
from ...services import callback_assignment, calendars, callback_words, callbacks, operators, phones, rates
from ...services import sites, slots
from ...store import callbacks as store
from ...store.callbacks import Callback
from ...store.operators import Operator
from ...store.db import utcnow
from ...store.sites import Site
from ..context import app_state, base_url
from . import callback_leads
from .auth_cookies import current_operator
from .forms import operator_post
from .language import console_language
from .pages import console_data
from .rendering import render_page

DUE_WINDOW = timedelta(minutes=15)  # "due now": from 15 min ago to 15 min ahead; older is overdue
RETRY_SLOTS = 12  # slots offered to call again at
SHOW = ("all", "mine", "nobody")  # the queue's filter (?show=): everyone's, the operator's, nobody's


@dataclass(frozen=True)
class Row:
    id: str
    name: str | None
    phone: str
    phone_display: str
    note: str | None
    site: str
    status: str
    asap: bool
    due_site: str  # the due time in the site's zone, with the zone's city
    due_visitor: str | None  # the visitor's own time, when their zone differs
    conversation_id: str | None
    assignee_id: int | None = None
    assignee_name: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    retry_slots: list[dict[str, str]] = field(default_factory=list)
    assignable: list[dict[str, Any]] = field(default_factory=list)  # operators who work the site
    lead: dict[str, Any] | None = None  # the lead's card (callback_leads.py)


@dataclass(frozen=True)
class QueuePage:
    groups: list[tuple[str, list[Row]]]
    show: str  # all | mine | nobody
    me: int
    feed_url: str | None
    has_feed: bool
    saved: str | None
    error: str | None
    console_data: dict[str, Any]


def group(callback: Callback, now: datetime, site_tz: ZoneInfo) -> str:
    if callback.due_at < now - DUE_WINDOW:
        return "overdue"
    if callback.due_at <= now + DUE_WINDOW:
        return "due_now"
    if callback.due_at.astimezone(site_tz).date() == now.astimezone(site_tz).date():
        return "today"
    return "upcoming"


def _when(lang: str, moment: datetime, tz: str) -> str:
    return f"{format_datetime(lang, moment, tz=ZoneInfo(tz))} ({callback_words.zone_label(lang, tz)})"


def _assignees(operator: Operator, show: str) -> set[int] | None:
    return {"mine": {operator.id}, "nobody": {store.UNASSIGNED}}.get(show)


async def _rows(request: Request, operator: Operator, lang: str, now: datetime, show: str) -> dict[str, list[Row]]:
    state = app_state(request)
    assignees = _assignees(operator, show)
    found = await state.db.read(lambda conn: store.list_open(conn, site_ids=operator.site_ids, assignees=assignees))
    everyone = await operators.list_operators(state.db)
    staff = [o for o in everyone if o.active]
    names = {o.id: o.name for o in everyone}
    attempts = await state.db.read(lambda conn: store.list_attempts(conn, [c.id for c in found]))
    cards = await state.db.read(lambda conn: callback_leads.read_cards(conn, found, lang))
    by_site: dict[int, Site] = {s.id: s for s in await sites.list_sites(state.db)}
    retry: dict[int, list[dict[str, str]]] = {}
    out: dict[str, list[Row]] = {"due_now": [], "overdue": [], "today": [], "upcoming": []}
    for c in found:
        site = by_site[c.site_id]
        if site.id not in retry:
            schedule = callbacks.schedule_for(site)
            zone = schedule.zone
            free = slots.slots(schedule, now.astimezone(zone).date(), (now + timedelta(days=slots.HORIZON_DAYS)).date(),
                               now=now, taken={})  # an operator may double-book a slot on purpose
            retry[site.id] = [{"start": s.start.isoformat(), "label": format_datetime(lang, s.start, tz=zone)}
                              for s in free[:RETRY_SLOTS]]
        visitor_time = None
        if c.visitor_tz and c.visitor_tz != site.callback_tz:
            if c.due_at.astimezone(ZoneInfo(c.visitor_tz)).utcoffset() != c.due_at.astimezone(ZoneInfo(site.callback_tz)).utcoffset():
                visitor_time = _when(lang, c.due_at, c.visitor_tz)
        out[group(c, now, ZoneInfo(site.callback_tz))].append(Row(
            id=c.id, name=c.name, phone=c.phone, phone_display=phones.display(c.phone), note=c.note, site=site.name,
            status=c.status, asap=c.slot_start is None, due_site=_when(lang, c.due_at, site.callback_tz),
            due_visitor=visitor_time, conversation_id=c.conversation_id, attempts=attempts.get(c.id, []),
            retry_slots=retry[site.id], assignee_id=c.assignee_id,
            assignee_name=names.get(c.assignee_id) if c.assignee_id is not None else None,
            assignable=[{"id": o.id, "name": o.name} for o in staff if o.may_see_site(site.id)],
            lead=cards.get(c.visitor_id),
        ))
    for c in found:
        for attempt in attempts.get(c.id, []):  # in the site's zone, like the due time
            at = datetime.fromisoformat(attempt["at"].replace("Z", "+00:00"))
            attempt["at_label"] = format_datetime(lang, at, tz=ZoneInfo(by_site[c.site_id].callback_tz))
    return out


async def queue(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    return await _render(request, operator)


async def _render(request: Request, operator: Operator, *, feed_token: str | None = None) -> Response:
    state = app_state(request)
    lang = console_language(request, operator)
    show = _show(request.query_params.get("show"))
    rows = await _rows(request, operator, lang, utcnow(), show)
    saved = request.query_params.get("saved")
    error = request.query_params.get("error")
    page = QueuePage(
        groups=[(name, rows[name]) for name in ("due_now", "overdue", "today", "upcoming")],
        show=show,
        me=operator.id,
        # Shown once, in the answer to the POST that made it: never in a URL (history, logs).
        feed_url=f"{base_url(request)}/calendar/{feed_token}.ics" if feed_token else None,
        has_feed=await calendars.has_feed(state.db, operator.id),
        saved=state.catalogs.translate(
            lang, "callbacks.saved", outcome=state.catalogs.translate(lang, f"callbacks.outcome.{saved}")
        ) if saved in callbacks.OUTCOMES else (
            state.catalogs.translate(lang, "callbacks.saved_assigned") if saved == "assigned" else None
        ),
        error=error[:300] if error else None,
        console_data=console_data(request, operator, "callbacks"),
    )
    return await render_page(request, "console/callbacks.html", asdict(page), operator=operator)


def _show(value: Any) -> str:
    return value if value in SHOW else "all"


def _back(show: str, **params: str) -> str:
    query = {**({"show": show} if show != "all" else {}), **params}
    return "/console/callbacks" + (f"?{urlencode(query)}" if query else "")


async def _change(request: Request, change: Callable[[Operator, Any], Awaitable[str]]) -> Response:
    """A queue form's POST: signed in, CSRF, the operator's action limit, then ``change``;
    back to the queue (same filter) saying what was saved, or the error in their language."""
    post = await operator_post(request)
    if isinstance(post, Response):
        return post
    state = app_state(request)
    operator, lang, form = post.operator, post.lang, post.form
    show = _show(form.get("show"))
    try:
        await rates.check_per_minute(
            state.throttle, "operator_actions", str(operator.id), per_minute=state.settings.operator_actions_per_minute,
        )
        saved = await change(operator, form)
    except FrontdeskError as exc:
        message = state.catalogs.first(lang, exc.message_keys, **exc.message_params)
        return RedirectResponse(_back(show, error=message), status_code=303)
    return RedirectResponse(_back(show, saved=saved), status_code=303)


async def record(request: Request) -> Response:
    """POST /console/callbacks/{id}: outcome, and for no_answer retry_in_minutes or retry_at."""
    state = app_state(request)

    async def change(operator: Operator, form: Any) -> str:
        await callbacks.record_outcome(
            state.writer, request.path_params["callback_id"][:32], operator.id, form.get("outcome"),
            retry_in_minutes=form.get("retry_in_minutes"), retry_at=form.get("retry_at"), site_ids=operator.site_ids,
        )
        return str(form.get("outcome"))

    return await _change(request, change)


async def assign(request: Request) -> Response:
    """POST /console/callbacks/{id}/assign: assignee_id (an operator of the site; empty: nobody)."""
    state = app_state(request)

    async def change(operator: Operator, form: Any) -> str:
        await callback_assignment.assign(
            state.writer, operator, request.path_params["callback_id"][:32], form.get("assignee_id"),
        )
        return "assigned"

    return await _change(request, change)


def _ics(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store",
    })


async def ics(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    state = app_state(request)
    callback_id = request.path_params["callback_id"][:32]
    callback = await state.db.read(lambda conn: store.get_callback(conn, callback_id))
    if callback is None or not operator.may_see_site(callback.site_id):
        return PlainTextResponse("not found", status_code=404)
    site_list = {s.id: s for s in await sites.list_sites(state.db)}
    site = site_list[callback.site_id]
    body = calendars.calendar([(callback, site.callback_slot_minutes, site.name)], base_url(request), site.name)
    return _ics(body, f"callback-{callback.id}.ics")


async def feed_settings(request: Request) -> Response:
    """POST /console/callbacks/feed: action=new (a new secret URL, the old one stops) or revoke."""
    post = await operator_post(request)
    if isinstance(post, Response):
        return post
    state = app_state(request)
    operator, form = post.operator, post.form
    if form.get("action") == "revoke":
        await calendars.revoke_feed(state.writer, operator.id)
        return RedirectResponse("/console/callbacks", status_code=303)
    token = await calendars.new_feed(state.writer, operator.id)
    return await _render(request, operator, feed_token=token)


async def feed(request: Request) -> Response:
    """GET /calendar/{token}.ics: the operator's feed; the secret in the URL is the key."""
    state = app_state(request)
    try:
        from ...services import rates
        from ..addresses import client_address

        await rates.check_per_minute(state.throttle, "calendar_feeds", client_address(request) or "-",
                                     per_minute=state.settings.callback_reads_per_minute)
    except FrontdeskError:
        return PlainTextResponse("rate limited", status_code=429)
    operator_id = await calendars.feed_owner(state.db, request.path_params["token"])
    if operator_id is None:
        return PlainTextResponse("not found", status_code=404)
    owner = await operators.operator_by_id(state.db, operator_id)
    if owner is None or not owner.active:
        return PlainTextResponse("not found", status_code=404)
    site_list = {s.id: s for s in await sites.list_sites(state.db)}
    found = await calendars.feed_callbacks(state.db, utcnow(), owner.site_ids, owner.id)
    body = calendars.calendar(
        [(c, site_list[c.site_id].callback_slot_minutes, site_list[c.site_id].name) for c in found],
        base_url(request), "Frontdesk callbacks",
    )
    return _ics(body, "callbacks.ics")
