"""What every endpoint asks of a request: the app state, our origin, the caller's language."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..catalogs import pick_language
from ..errors import Invalid
from ..services.fields import origin as normal_origin
from ..state import AppState


def app_state(conn: HTTPConnection) -> AppState:
    return conn.app.state.fd  # type: ignore[no-any-return]


def own_origin(conn: HTTPConnection) -> str | None:
    """The Frontdesk origin: the configured public URL, else what the request was sent to."""
    settings = app_state(conn).settings
    if settings.public_url:
        return normal_origin("/".join(settings.public_url.split("/", 3)[:3]))
    host = conn.headers.get("host")
    if not host:
        return None
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    try:
        return normal_origin(f"{scheme}://{host}")
    except Invalid:
        return None


def base_url(conn: HTTPConnection) -> str:
    settings = app_state(conn).settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return own_origin(conn) or ""


def language(conn: HTTPConnection, *explicit: str | None) -> str:
    return pick_language(
        *explicit, conn.query_params.get("lang"), conn.cookies.get("fd_lang"),
        accept_language=conn.headers.get("accept-language"),
    )

