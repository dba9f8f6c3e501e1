"""`frontdesk demo`: a sample third-party website on its own origin, and the data it needs."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .assets import asset_path
from .services import operators, sites
from .state import AppState
from .store.sites import Site

DEMO_SITE_NAME = "Demo site"
PAGES = {"": "index.html", "index.html": "index.html", "pricing.html": "pricing.html", "contact.html": "contact.html"}


async def prepare_demo(state: AppState, demo_port: int, email: str, password: str | None) -> tuple[Site, str]:
    """The demo site (allowed on the demo port) and an operator; returns the site and password.

    A restart with the same data directory, on any ports, finds the same site again (its
    key is kept in the data directory) and moves its allowed origins to the new demo
    port, so earlier conversations stay with it. The operator's password is re-hashed
    only when it changes (a new hash ends their console sessions): without one given, the
    last run's is kept; a given one that already matches is left alone.
    """
    origins = [f"http://127.0.0.1:{demo_port}", f"http://localhost:{demo_port}"]
    site = await _find_demo_site(state)
    if site is None:
        site = await sites.create_site(
            state.writer, DEMO_SITE_NAME, origins, greeting="Hi! Ask us anything — we usually answer within minutes.",
            allow_duplicate_name=True,
        )
    elif set(site.allowed_origins) != set(origins):
        site = await sites.set_allowed_origins(state.writer, site, origins)
    _demo_file(state, "demo-site-key").write_text(site.key)

    remembered = _demo_file(state, "demo-operator-password")
    kept = remembered.read_text().strip() if remembered.exists() else None
    for candidate in (password,) if password is not None else (kept,):
        if candidate and await operators.authenticate(state.db, state.signer, email, candidate) is not None:
            _remember(remembered, candidate)
            return site, candidate
    password = password or secrets.token_urlsafe(9)
    if await operators.set_password(state.writer, state.signer, email, password) is None:
        await operators.create_operator(state.writer, state.signer, email, password, name="Demo Operator")
    _remember(remembered, password)
    return site, password


async def _find_demo_site(state: AppState) -> Site | None:
    """The site an earlier demo run in this data directory made: by the key it left there,
    else (data directories from before the key was kept) the oldest site of the demo's name."""
    marker = _demo_file(state, "demo-site-key")
    if marker.exists():
        site = await sites.site_by_key(state.db, marker.read_text().strip())
        if site is not None:
            return site
    return next((s for s in await sites.list_sites(state.db) if s.name == DEMO_SITE_NAME), None)


def _demo_file(state: AppState, name: str) -> Path:
    path = Path(state.settings.data_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _remember(path: Path, password: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others, even briefly
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    path.chmod(0o600)


def create_demo_app(frontdesk_url: str, site_key: str) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(asset_path("demo_site"))), autoescape=select_autoescape(default=True))

    async def page(request: Request) -> Response:
        name = PAGES.get(request.path_params.get("page", ""))
        if name is None:
            return HTMLResponse("Not found", status_code=404)
        try:
            template = env.get_template(name)
        except TemplateNotFound:
            return HTMLResponse("Not found", status_code=404)
        return HTMLResponse(template.render(frontdesk_url=frontdesk_url, site_key=site_key))

    return Starlette(routes=[Route("/", page), Route("/{page}", page)])
