"""Front-end files: embed.js, the widget panel (framed only by the site's origins), console assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..assets import asset_path
from ..services import sites
from .context import app_state

_PANEL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors {ancestors}"
)


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
