"""The console's language menu: an operator's choice is stored on their row (so it follows
them to every device) and mirrored in a cookie (for the login page and the API's errors)."""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ...errors import Invalid
from ...locales import LANGUAGES
from ...services import operators
from ...store.operators import Operator
from ..context import app_state, language
from .auth_cookies import LANG_COOKIE, csrf_ok, current_operator, form_data, secure_cookies


def console_language(conn: HTTPConnection, operator: Operator | None) -> str:
    """The operator's own choice, else ?lang=, the cookie, Accept-Language."""
    return language(conn, operator.language if operator else None)


def set_language_cookie(conn: HTTPConnection, response: Response, lang: str) -> Response:
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure_cookies(conn), path="/")
    return response


def _back(target: str | None) -> str:
    # Only back into the console: never an open redirect.
    if target and target.startswith("/console") and "\\" not in target:
        return target
    return "/console/"


async def choose(request: Request) -> Response:
    state = app_state(request)
    form = await form_data(request)
    operator = await current_operator(request)
    here = console_language(request, operator)
    if not csrf_ok(request, form):
        return PlainTextResponse(state.catalogs.translate(here, "csrf.failed"), status_code=403)
    code = form.get("language", "")
    try:
        if code not in LANGUAGES:
            raise Invalid(field="language")
        if operator is not None:
            await operators.set_language(state.writer, operator.id, code)
    except Invalid:
        return PlainTextResponse(state.catalogs.translate(here, "error.invalid.language"), status_code=400)
    return set_language_cookie(request, RedirectResponse(_back(form.get("next")), status_code=303), code)
