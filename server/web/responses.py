"""Errors as JSON, in the caller's language: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from ..errors import FrontdeskError, RateLimited
from .context import app_state, language


def error_body(conn: HTTPConnection, exc: FrontdeskError, lang: str | None = None) -> dict[str, Any]:
    lang = lang or language(conn)
    message = app_state(conn).catalogs.first(lang, exc.message_keys, **exc.message_params)
    body: dict[str, Any] = {"code": exc.code, "message": message}
    if exc.field:
        body["field"] = exc.field
    body.update(exc.extra())
    return body


def error_response(
    conn: HTTPConnection, exc: FrontdeskError, *, headers: dict[str, str] | None = None, lang: str | None = None
) -> JSONResponse:
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers = {**(headers or {}), "Retry-After": str(exc.retry_after)}
    return JSONResponse({"error": error_body(conn, exc, lang)}, status_code=exc.status, headers=headers)
