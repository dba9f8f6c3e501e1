"""Console JSON for the lead pipeline (the lead card's controls, static/console/lead-pipeline.js):
read a lead's pipeline, move it, give it an owner, tag it, write, edit or delete a note.

Session cookie; every change carries the page's CSRF token in X-CSRF-Token and is limited
per operator (operator_actions), as /console/api/canned is. A lead of a site the operator
may not see is 404, as if it did not exist. Errors name the field in the operator's language.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, Invalid, Unauthorized
from ..services import lead_pipeline, phones, rates
from ..store.operators import Operator
from .console.auth_cookies import CSRF_COOKIE, current_operator
from .console.language import console_language
from .console_canned import CsrfFailed
from .context import app_state
from .json_input import loads
from .responses import error_response


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw and request.method == "DELETE" and "note_id" in request.path_params:
        return {}  # deleting a note says everything in its address
    data = loads(raw or b"null", root="body")
    if not isinstance(data, dict):
        raise Invalid(field="body")
    return data


def shown_view(view: dict[str, Any]) -> dict[str, Any]:
    lead = view["lead"]
    return {**view, "lead": {**lead, "phone_display": phones.display(lead["phone"]) if lead.get("phone") else None},
            "statuses": list(lead_pipeline.STATUSES)}


async def get_lead(request: Request) -> Response:
    """GET /console/api/leads/{lead_id}: the lead, its pipeline, notes, possible owners."""
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    try:
        view = await lead_pipeline.lead_view(app_state(request).db, operator, request.path_params["lead_id"])
    except FrontdeskError as exc:
        return error_response(request, exc, lang=console_language(request, operator))
    return JSONResponse(shown_view(view), headers={"Cache-Control": "no-store"})


Change = Callable[[Request, Operator, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _change(request: Request, change: Change, status_code: int = 200) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    state = app_state(request)
    try:
        if not state.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), request.headers.get("x-csrf-token")):
            raise CsrfFailed()
        await rates.check_per_minute(
            state.throttle, "operator_actions", str(operator.id), per_minute=state.settings.operator_actions_per_minute
        )
        result = await change(request, operator, await _body(request))
    except FrontdeskError as exc:
        return error_response(request, exc, lang=console_language(request, operator))
    return JSONResponse(result, status_code=status_code)


def _lead_id(request: Request) -> str:
    return str(request.path_params["lead_id"])


async def put_status(request: Request) -> Response:
    """PUT …/status {"status", "lost_reason"}: lost needs a reason."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        writer = app_state(request).writer
        return {"pipeline": await lead_pipeline.set_status(
            writer, operator, _lead_id(request), data.get("status"), data.get("lost_reason"))}

    return await _change(request, change)


async def put_owner(request: Request) -> Response:
    """PUT …/owner {"owner_id": id or null}."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        if "owner_id" not in data:
            raise Invalid(field="owner_id")
        return {"pipeline": await lead_pipeline.set_owner(
            app_state(request).writer, operator, _lead_id(request), data["owner_id"])}

    return await _change(request, change)


async def post_tag(request: Request) -> Response:
    """POST …/tags {"tag"}: added (once; normalised)."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        return {"pipeline": await lead_pipeline.add_tag(app_state(request).writer, operator, _lead_id(request), data.get("tag"))}

    return await _change(request, change)


async def delete_tag(request: Request) -> Response:
    """DELETE …/tags {"tag"} (in the body: a tag may hold "/" or "?")."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        return {"pipeline": await lead_pipeline.remove_tag(
            app_state(request).writer, operator, _lead_id(request), data.get("tag"))}

    return await _change(request, change)


async def post_note(request: Request) -> Response:
    """POST …/notes {"body"}: a private note; 201 with the note."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        return {"note": await lead_pipeline.add_note(app_state(request).writer, operator, _lead_id(request), data.get("body"))}

    return await _change(request, change, status_code=201)


async def put_note(request: Request) -> Response:
    """PUT …/notes/{note_id} {"body"}: the note's new text (its author or an admin; else 403)."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        return {"note": await lead_pipeline.edit_note(
            app_state(request).writer, operator, _lead_id(request), request.path_params["note_id"], data.get("body"))}

    return await _change(request, change)


async def delete_note(request: Request) -> Response:
    """DELETE …/notes/{note_id}: the note is gone (its author or an admin; else 403)."""

    async def change(request: Request, operator: Operator, data: dict[str, Any]) -> dict[str, Any]:
        note_id = request.path_params["note_id"]
        await lead_pipeline.delete_note(app_state(request).writer, operator, _lead_id(request), note_id)
        return {"deleted": lead_pipeline.check_note_id(note_id)}

    return await _change(request, change)
