"""Who is signed in to the console: session cookie (signed, HttpOnly, SameSite), CSRF double submit."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ...services import operators
from ...store.operators import Operator, Session
from ..context import app_state

SESSION_COOKIE = "fd_session"
CSRF_COOKIE = "fd_csrf"
LANG_COOKIE = "fd_lang"


def secure_cookies(conn: HTTPConnection) -> bool:
    return conn.url.scheme in ("https", "wss") or app_state(conn).settings.public_url.startswith("https://")


async def current_session(conn: HTTPConnection) -> Session | None:
    """The live server-side session of this request's cookie (ended sessions are refused)."""
    state = app_state(conn)
    return await operators.session_for(state.db, state.signer, conn.cookies.get(SESSION_COOKIE))


async def current_operator(conn: HTTPConnection) -> Operator | None:
    session = await current_session(conn)
    return session.operator if session else None


def csrf_token(conn: HTTPConnection) -> tuple[str, bool]:
    """The CSRF secret for this browser, and whether it is new (to be set as a cookie)."""
    existing = conn.cookies.get(CSRF_COOKIE)
    signer = app_state(conn).signer
    if existing and signer.csrf_matches(existing, existing):
        return existing, False
    return signer.new_csrf_secret(), True


def remember(conn: HTTPConnection, response: Response, token: str, is_new: bool, lang: str) -> Response:
    if is_new:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(conn), path="/console")
    if conn.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure_cookies(conn))
    return response


async def form_data(request: Request) -> dict[str, str]:
    """The urlencoded form (console forms are small; the body limit applies)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    return app_state(request).signer.csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf_token"))


