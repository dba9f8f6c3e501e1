"""Who may open what: admin pages and APIs are refused to agents by one guard, put on by
the routes list (routes.py) on every route under an admin path, so a new admin route
cannot be left open by forgetting to check.

An agent gets 403: JSON under /api/ (the console API's error shape), a page saying so
elsewhere. Without a session: 401 JSON, or the login page.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import FrontdeskError, RateLimited, Unauthorized
from ...services import rates
from ...store.operators import Operator
from ..context import app_state
from ..responses import error_response
from .auth_cookies import current_operator
from .language import console_language
from .rendering import render_page

# Every route whose path is one of these, or below one, is for admins only.
ADMIN_PATHS = ("/console/sites", "/console/operators", "/console/faq", "/api/console/v1/admin")

Endpoint = Callable[[Request], Awaitable[Response]]


class AdminOnly(FrontdeskError):
    code = "admin_only"
    status = 403


def is_admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS)


def admin_only(endpoint: Endpoint) -> Endpoint:
    """The endpoint, for admins; it finds the operator in ``request.state.operator``."""

    async def guarded(request: Request) -> Response:
        operator = await current_operator(request)
        api = request.url.path.startswith("/api/")
        if operator is None:
            if api:
                return error_response(request, Unauthorized())
            return RedirectResponse("/console/login", status_code=303)
        if not operator.is_admin:
            if api:
                return error_response(request, AdminOnly())
            return await render_page(request, "console/forbidden.html", {}, operator=operator, status_code=403)
        state = app_state(request)
        try:
            await rates.check_per_minute(
                state.throttle, "admin_requests", str(operator.id), per_minute=state.settings.admin_requests_per_minute
            )
        except RateLimited as exc:
            if api:
                return error_response(request, exc)
            message = state.catalogs.first(console_language(request, operator), exc.message_keys, **exc.message_params)
            return await render_page(request, "console/message.html", {"message": message}, operator=operator,
                                     status_code=429)
        request.state.operator = operator
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    guarded.admin_only = True  # type: ignore[attr-defined]
    return guarded


def signed_in(request: Request) -> Operator:
    """The admin the guard let in."""
    return request.state.operator  # type: ignore[no-any-return]
