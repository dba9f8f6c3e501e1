"""Renders a console page with what every page needs: language, CSRF token, operator."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...store.operators import Operator
from ..templating import render
from .auth_cookies import csrf_token, remember
from .language import console_language


async def render_page(
    request: Request, name: str, context: dict[str, Any], *, operator: Operator | None, status_code: int = 200
) -> Response:
    lang = console_language(request, operator)
    token, is_new = csrf_token(request)
    response = render(
        request, request.app.state.templates, name, {"operator": operator, **context}, lang=lang, csrf_token=token,
        status_code=status_code,
    )
    return remember(request, response, token, is_new, lang)
