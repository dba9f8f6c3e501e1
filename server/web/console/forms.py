"""What the admin pages share: a form with repeated fields (checkboxes), CSRF, errors said
in the admin's language next to the field they are about."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ...errors import FrontdeskError
from ...store.operators import Operator
from ..context import app_state
from .auth_cookies import CSRF_COOKIE, csrf_ok, current_operator, form_data
from .language import console_language
from .roles import signed_in

MAX_FIELDS = 200  # a settings form has ~40; a body of thousands of fields is refused


class Form:
    """An urlencoded form: ``get`` the first value of a field, ``all`` every value."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, [default])[0]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def __contains__(self, name: str) -> bool:
        return name in self.values


async def read_form(request: Request) -> Form | None:
    """The form, or None when its CSRF token is wrong (or it has absurdly many fields)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    try:
        values = parse_qs(raw, keep_blank_values=True, max_num_fields=MAX_FIELDS) if raw else {}
    except ValueError:  # over MAX_FIELDS: not a form of ours
        return None
    token = values.get("csrf_token", [""])[0]
    if not app_state(request).signer.csrf_matches(request.cookies.get(CSRF_COOKIE), token):
        return None
    return Form(values)


def said(request: Request, exc: FrontdeskError) -> str:
    """The error's message in the admin's language."""
    lang = console_language(request, signed_in(request))
    return app_state(request).catalogs.first(lang, exc.message_keys, **exc.message_params)


def csrf_failed(request: Request) -> str:
    lang = console_language(request, signed_in(request))
    return app_state(request).catalogs.translate(lang, "csrf.failed")


@dataclass(frozen=True)
class OperatorPost:
    """A console form POST that may go ahead: who sent it, their language, the form."""

    operator: Operator
    lang: str
    form: dict[str, str]


async def operator_post(request: Request) -> OperatorPost | Response:
    """A console form's POST from a signed-in operator with a valid CSRF token; otherwise the
    answer to send instead (the login page, or 403 in the operator's language)."""
    operator = await current_operator(request)
    if operator is None:
        return RedirectResponse("/console/login", status_code=303)
    lang = console_language(request, operator)
    form = await form_data(request)
    if not csrf_ok(request, form):
        return PlainTextResponse(app_state(request).catalogs.translate(lang, "csrf.failed"), status_code=403)
    return OperatorPost(operator, lang, form)
