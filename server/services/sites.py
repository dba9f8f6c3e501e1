"""Sites: the businesses' websites that embed the widget."""

from __future__ import annotations

import re
import secrets
from typing import Any

from ..errors import Invalid
from ..store import sites as store
from ..store.db import Database
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from ..locales import LANGUAGES
from . import fields

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


async def create_site(
    writer: GroupWriter,
    name: Any,
    origins: list[Any],
    *,
    color: str = "#2563eb",
    position: str = "right",
    language: str | None = None,
    greeting: str | None = None,
) -> Site:
    clean_name = fields.text(name, "name", max_chars=200)
    if not origins:
        raise Invalid(field="origin")
    clean_origins = tuple(dict.fromkeys(fields.origin(o) for o in origins))
    if not _COLOR.match(color or ""):
        raise Invalid(field="color")
    if position not in ("right", "left"):
        raise Invalid(field="position")
    if language is not None and language not in LANGUAGES:
        raise Invalid(field="language")
    clean_greeting = fields.text(greeting, "greeting", max_chars=500, required=False)
    key = "fd_" + secrets.token_urlsafe(12)

    def job(tx: Tx) -> Site:
        return store.insert_site(
            tx.conn, key=key, name=clean_name, allowed_origins=clean_origins, color=color.lower(),
            position=position, language=language, greeting=clean_greeting,
        )

    return await writer.run(job)


async def site_by_key(db: Database, key: str) -> Site | None:
    if not isinstance(key, str) or len(key) > 64:
        return None
    return await db.read(lambda conn: store.get_site_by_key(conn, key))


async def list_sites(db: Database) -> list[Site]:
    return await db.read(store.list_sites)


def origin_allowed(site: Site, origin: str | None, own_origin: str | None) -> bool:
    """An allowed origin of the site, or our own (the panel iframe)."""
    if not origin:
        return False
    try:
        normal = fields.origin(origin)
    except Invalid:
        return False
    return normal in site.allowed_origins or (own_origin is not None and normal == own_origin)
