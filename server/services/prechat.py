"""The pre-chat form's rule on the server (docs/leads.md): when a site's form is
**required**, a visitor's first chat message is refused until the fields the form asks for
are on the visitor's record. Only valid values are ever stored there (``visitor.identify``
checks each field), so "given" means "given and valid". *optional* and *off* never block.

The widget shows the form first and never meets the refusal in its normal flow: this is
for clients that bypass it. A visitor who already has a conversation (one from before the
site required the form, or the contact form's) is not blocked, as the widget does not ask
them either. Nothing is stored for a refused message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..errors import FrontdeskError
from ..store import conversations as conversation_store
from ..store import visitors as visitor_store
from ..store.db import Database
from ..store.sites import Site

REQUIRED = "required"


class PrechatRequired(FrontdeskError):
    """``field``: the first missing field; ``fields``: all of them (in the error's JSON too)."""

    code = "prechat_required"
    status = 400

    def extra(self) -> dict[str, Any]:
        return {"fields": list(self.params.get("fields", ()))}


def blocks(site: Site) -> bool:
    return site.prechat == REQUIRED and bool(site.prechat_fields)


async def missing_fields(db: Database, site: Site, visitor_id: str) -> list[str]:
    """The required fields the visitor has not given yet; [] when nothing is missing, the
    form is not required, or the visitor already has a conversation. One read, and only
    for a visitor's first message on a site that requires the form."""
    if not blocks(site):
        return []

    def read(conn: Connection) -> list[str]:
        if conversation_store.latest_conversation(conn, visitor_id) is not None:
            return []
        visitor = visitor_store.get_visitor(conn, visitor_id)
        if visitor is None:
            return []  # the message's own job says invalid_token
        return [f for f in site.prechat_fields if not getattr(visitor, f, None)]

    return await db.read(read)
