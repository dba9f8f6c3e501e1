"""Console JSON: conversation summaries, a conversation's messages and entries, operators (session cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, Unauthorized
from ..services import chat
from ..services import conversations as actions
from .console import presenting
from .console.auth_cookies import current_operator
from .context import app_state
from .responses import error_response


async def conversations(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    state = app_state(request)
    summaries, position = await chat.inbox(state.db, operator.site_ids, position=state.relay_position())
    shown = [presenting.summary(s) for s in summaries]
    return JSONResponse({"conversations": shown, "last_event_id": position}, headers={"Cache-Control": "no-store"})


async def conversation_messages(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    db = app_state(request).db
    conversation_id = request.path_params["conversation_id"]
    try:
        messages = await chat.conversation_messages(db, conversation_id, operator.site_ids)
    except FrontdeskError as exc:
        return error_response(request, exc)
    # Notes and system lines (operators only: the widget never asks for this).
    entries = await actions.thread_entries(db, conversation_id)
    return JSONResponse(
        {"messages": [m.public() for m in messages], "entries": [e.public() for e in entries]},
        headers={"Cache-Control": "no-store"},
    )


async def operators(request: Request) -> Response:
    """Who a conversation can be assigned to."""
    if await current_operator(request) is None:
        return error_response(request, Unauthorized())
    shown = await actions.assignable_operators(app_state(request).db)
    return JSONResponse({"operators": shown}, headers={"Cache-Control": "no-store"})
