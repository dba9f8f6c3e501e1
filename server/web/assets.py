"""Front-end files: embed.js, the widget panel (framed only by the site's origins), console assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from ..assets import asset_path
from ..services import sites
from .context import app_state

_PANEL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors {ancestors}"
)


class WidgetFiles(StaticFiles):
    """The panel's scripts, styles and catalogues. Pages are served only by ``panel`` (with
    its frame-ancestors policy), never here: ``/widget//panel.html`` must not slip past it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.lower().endswith((".html", ".htm")):
            return PlainTextResponse("Not found", status_code=404)
        return await super().get_response(path, scope)


async def embed_js(request: Request) -> Response:
    return FileResponse(
        asset_path("embed.js"), media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*",
                 "X-Content-Type-Options": "nosniff"},
    )


async def panel(request: Request) -> Response:
    """The panel page; only the site's allowed origins may frame it."""
    site = await sites.site_by_key(app_state(request).db, request.query_params.get("site", ""))
    ancestors = " ".join(site.allowed_origins) if site else "'none'"
    return FileResponse(
        asset_path("widget", "panel.html"), media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _PANEL_CSP.format(ancestors=ancestors),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )
