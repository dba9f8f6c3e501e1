"""Console sign-in and sign-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import FrontdeskError, RateLimited
from ...realtime.hub import announce_session_ended
from ...services import operators
from ..addresses import client_address
from ..context import app_state, language
from .auth_cookies import SESSION_COOKIE, csrf_ok, current_operator, form_data, secure_cookies
from .language import set_language_cookie
from .rendering import render_page


async def login_page(request: Request) -> Response:
    if await current_operator(request):
        return RedirectResponse("/console/", status_code=303)
    return await render_page(request, "console/login.html", {"email": "", "error": None}, operator=None)


async def login(request: Request) -> Response:
    state = app_state(request)
    lang = language(request)
    form = await form_data(request)
    email = form.get("email", "")[:254]
    if not csrf_ok(request, form):
        error, status = state.catalogs.translate(lang, "csrf.failed"), 403
    else:
        try:
            operator, token = await operators.login(
                state.db, state.writer, state.signer, state.limiter, email, form.get("password", ""),
                ip=client_address(request), attempts_per_minute=state.settings.login_attempts_per_minute,
            )
        except RateLimited:
            error, status = state.catalogs.translate(lang, "login.rate_limited"), 429
        except FrontdeskError as exc:
            key = "login.deactivated" if exc.code == "deactivated" else "login.invalid"
            error, status = state.catalogs.translate(lang, key), 401
        else:
            response = RedirectResponse("/console/", status_code=303)
            response.set_cookie(
                SESSION_COOKIE, state.signer.session_cookie(token),
                max_age=state.signer.session_max_age, httponly=True, samesite="lax", secure=secure_cookies(request), path="/",
            )
            if operator.language:  # their choice, made on another device perhaps
                set_language_cookie(request, response, operator.language)
            return response
    return await render_page(
        request, "console/login.html", {"email": email, "error": error}, operator=None, status_code=status
    )


async def logout(request: Request) -> Response:
    form = await form_data(request)
    if not csrf_ok(request, form):
        lang = language(request)
        error = app_state(request).catalogs.translate(lang, "csrf.failed")
        return await render_page(request, "console/login.html", {"email": "", "error": error}, operator=None,
                                 status_code=403)
    # The session ends on the server (every node refuses the cookie from now on), and the
    # operator's consoles on this session close, wherever they are connected.
    state = app_state(request)
    ended = await operators.logout(state.writer, state.signer, request.cookies.get(SESSION_COOKIE))
    if ended is not None:
        await announce_session_ended(state.hub, ended.operator.id, ended.id)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
