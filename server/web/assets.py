"""Front-end files: embed.js, the widget panel (framed only by the site's origins), the
panel's and the console's scripts, styles and catalogues.

Caching (docs/architecture.md, "Caching the widget"):
- a content-hashed name ("/widget/panel.<hash>.js") is immutable: cached for a year, never
  asked for again; the panel page and the console's pages name their files that way;
- embed.js (its URL is in customers' pages) is cached for 5 minutes, then revalidated;
- the panel page and any plain name are revalidated on every use (ETag / Last-Modified: a
  304 of a few hundred bytes when nothing changed).
Every text file goes out pre-compressed (brotli or gzip, whichever the browser takes),
with ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..assets import Assets, Built, split_hashed
from ..services import sites
from .context import app_state

_PANEL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors {ancestors}"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # may be stored, but asked about (If-None-Match) before every use
EMBED_CACHE = "public, max-age=300"  # customers' pages name /embed.js itself: a new one within 5 minutes
# src="/widget/..." and href="/static/...": the files a page names, rewritten to their hashed names.
_REFERENCE = re.compile(r'(\s(?:src|href)=")/((?:widget|static)/[^"?#]+)(")')


def assets(request: Request) -> Assets:
    return request.app.state.assets  # type: ignore[no-any-return]


async def built(request: Request, name: str) -> Built | None:
    store = assets(request)
    hit = store.cached(name)
    return hit if hit is not None else await asyncio.to_thread(store.get, name)


def _base_tag(tag: str) -> str:
    """'W/"abc-br"' -> '"abc"': the content's version, whatever its coding."""
    tag = tag.strip().removeprefix("W/")
    for coding in ("-br", "-gzip"):
        if tag.endswith(coding + '"'):
            return tag[: -len(coding) - 1] + '"'
    return tag


def not_modified(request: Request, etag: str, last_modified: str) -> bool:
    """If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2). Weak comparison, and a
    tag of any coding of the same content matches: the browser's copy decodes to the same."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {_base_tag(t) for t in if_none_match.split(",")}
        return "*" in tags or _base_tag(etag) in tags
    return request.headers.get("if-modified-since") == last_modified


def send(
    request: Request, item: Built, *, cache: str, etag: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """``item`` in the encoding the browser takes best, or 304 when it has it already. Each
    coding has its own strong ETag ("<version>-br"), as RFC 9110 asks of representations."""
    body, encoding = item.body(request.headers.get("accept-encoding", ""))
    etag = (etag or f'"{item.version}"')[:-1] + (f'-{encoding}"' if encoding else '"')
    common = {
        "Cache-Control": cache, "ETag": etag, "Last-Modified": item.last_modified,
        "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff", **(headers or {}),
    }
    if not_modified(request, etag, item.last_modified):
        return Response(status_code=304, headers=common)
    if encoding:
        common["Content-Encoding"] = encoding
    if request.method == "HEAD":
        return Response(status_code=200, headers={**common, "Content-Length": str(len(body))}, media_type=item.media_type)
    return Response(body, headers=common, media_type=item.media_type)


def files(folder: str, *, refuse: tuple[str, ...] = ()) -> Callable[[Request], object]:
    """An endpoint for the files under ``folder`` (``/folder/{path}``): a hashed name whose
    hash is the file's is immutable; any other name (plain, or a stale hash left in an old
    page or cache) gets the current file, revalidated on every use."""

    async def endpoint(request: Request) -> Response:
        path = request.path_params["path"]
        if path.lower().endswith(refuse):
            return PlainTextResponse("Not found", status_code=404)
        plain, version = split_hashed(path)
        item = await built(request, f"{folder}/{path}")
        if item is None and version is not None:
            item = await built(request, f"{folder}/{plain}")
        if item is None:
            return PlainTextResponse("Not found", status_code=404)
        return send(request, item, cache=IMMUTABLE if version == item.version else REVALIDATE)

    return endpoint


# The panel's own pages are served only by ``panel`` (with its frame-ancestors policy),
# never as files: ``/widget//panel.html`` must not slip past it.
widget_files = files("widget", refuse=(".html", ".htm"))
static_files = files("static")


async def embed_js(request: Request) -> Response:
    item = await built(request, "embed.js")
    assert item is not None, "embed.js is missing from the installation"
    return send(request, item, cache=EMBED_CACHE, headers={"Access-Control-Allow-Origin": "*"})


def rewrite_page(store: Assets, html: str, manifest_folder: str | None) -> str:
    """A page's references to our files replaced by their hashed names; with
    ``manifest_folder``, every file under it is listed (name -> URL) in a JSON data block,
    ``<script type="application/json" id="frontdesk-assets">``, for what a script fetches
    itself (the panel's catalogues; anything a new part of the widget loads). CPU work."""
    html = _REFERENCE.sub(lambda m: m[1] + store.url(m[2]) + m[3], html)
    if manifest_folder:
        listing = {
            name.removeprefix(manifest_folder + "/"): store.url(name)
            for name in store.names(manifest_folder) if not name.endswith((".html", ".htm"))
        }
        block = json.dumps(listing, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
        html = html.replace(
            "</head>", f'<script type="application/json" id="frontdesk-assets">{block}</script>\n</head>', 1
        )
    return html


def _panel_page(store: Assets) -> Built:
    source = store.get("widget/panel.html")
    assert source is not None, "widget/panel.html is missing from the installation"
    html = rewrite_page(store, source.raw.decode(), "widget")
    return store.made(html.encode(), "panel.html", source.stamp)


async def panel(request: Request) -> Response:
    """The panel page; only the site's allowed origins may frame it. Revalidated on every
    use: the ETag covers the page and its policy, so a changed origin list is seen at once."""
    site = await sites.site_by_key(app_state(request).db, request.query_params.get("site", ""))
    ancestors = " ".join(site.allowed_origins) if site else "'none'"
    csp = _PANEL_CSP.format(ancestors=ancestors)
    page = await asyncio.to_thread(_panel_page, assets(request))
    etag = f'"{page.version}-{hashlib.sha256(csp.encode()).hexdigest()[:8]}"'
    return send(
        request, page, cache=REVALIDATE, etag=etag,
        headers={"Content-Security-Policy": csp, "Referrer-Policy": "no-referrer"},
    )
