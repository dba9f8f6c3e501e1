"""Console JSON for canned answers: list, create, change, delete (session cookie; every
change carries the page's CSRF token in X-CSRF-Token, checked against the CSRF cookie as
the console's forms are, and is limited per operator). Served under /console/api/ because
the CSRF cookie's path is /console."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import FrontdeskError, Invalid, Unauthorized
from ..services import canned, rates
from ..store.operators import Operator
from .console.auth_cookies import CSRF_COOKIE, current_operator
from .context import app_state
from .json_input import loads
from .responses import error_response


class CsrfFailed(FrontdeskError):
    code = "csrf_failed"
    status = 403


async def _operator_for_change(request: Request) -> Operator:
    operator = await current_operator(request)
    if operator is None:
        raise Unauthorized()
    state = app_state(request)
    if not state.signer.csrf_matches(request.cookies.get(CSRF_COOKIE), request.headers.get("x-csrf-token")):
        raise CsrfFailed()
    await rates.check_per_minute(
        state.throttle, "operator_actions", str(operator.id), per_minute=state.settings.operator_actions_per_minute
    )
    return operator


async def _body(request: Request) -> dict[str, Any]:
    data = loads(await request.body() or b"null", root="body")
    if not isinstance(data, dict):
        raise Invalid(field="body")
    return data


async def list_canned(request: Request) -> Response:
    operator = await current_operator(request)
    if operator is None:
        return error_response(request, Unauthorized())
    answers = await canned.list_canned(app_state(request).db, operator)
    return JSONResponse({"canned": [c.public() for c in answers]}, headers={"Cache-Control": "no-store"})


async def create_canned(request: Request) -> Response:
    try:
        operator = await _operator_for_change(request)
        made = await canned.create(app_state(request).writer, operator, await _body(request))
    except FrontdeskError as exc:
        return error_response(request, exc)
    return JSONResponse({"canned": made.public()}, status_code=201)


async def change_canned(request: Request) -> Response:
    try:
        operator = await _operator_for_change(request)
        changed = await canned.change(
            app_state(request).writer, operator, request.path_params["canned_id"], await _body(request)
        )
    except FrontdeskError as exc:
        return error_response(request, exc)
    return JSONResponse({"canned": changed.public()})


async def delete_canned(request: Request) -> Response:
    try:
        operator = await _operator_for_change(request)
        await canned.remove(app_state(request).writer, operator, request.path_params["canned_id"])
    except FrontdeskError as exc:
        return error_response(request, exc)
    return Response(status_code=204)
