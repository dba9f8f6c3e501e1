"""Console JSON: conversation summaries and a conversation's messages (session cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, Unauthorized
from ..services import chat
from .console import presenting
from .console.auth_cookies import current_operator
from .context import app_state
from .responses import error_response


async def conversations(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    summaries, position = await chat.inbox(app_state(request).db, operator.site_ids)
    shown = [presenting.summary(s) for s in summaries]
    return JSONResponse({"conversations": shown, "last_event_id": position}, headers={"Cache-Control": "no-store"})


async def conversation_messages(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    try:
        messages = await chat.conversation_messages(
            app_state(request).db, request.path_params["conversation_id"], operator.site_ids
        )
    except FrontdeskError as exc:
        return error_response(request, exc)
    return JSONResponse({"messages": [m.public() for m in messages]}, headers={"Cache-Control": "no-store"})
