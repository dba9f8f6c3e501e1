"""Visitors: anonymous until they say who they are; known by a signed token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import InvalidToken
from ..security import Signer, VisitorClaim
from ..store import conversations as conversation_store
from ..store import visitors as store
from ..store.db import Database
from ..store.sites import Site
from ..store.visitors import Visitor
from ..store.writer import GroupWriter, Tx
from ..throttle import Throttle
from . import events, fields, rates
from .sites import LANGUAGES


@dataclass(frozen=True)
class VisitorSession:
    token: str
    visitor: Visitor
    conversation: dict[str, Any] | None  # {"id", "last_seq", "status"}


def conversation_ref(row: Any) -> dict[str, Any] | None:
    return {"id": row.id, "last_seq": row.last_seq, "status": row.status} if row else None


async def check_new_visitor_rate(throttle: Throttle, address: str, *, per_minute: int) -> None:
    """Visitors cost storage: one address may start only so many a minute."""
    await rates.check_per_minute(
        throttle, "new_visitors_per_ip", address, per_minute=per_minute, reason="new_visitors"
    )


async def start_session(
    writer: GroupWriter,
    signer: Signer,
    site: Site,
    token: Any,
    *,
    language: Any = None,
    page_url: Any = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> VisitorSession:
    """The visitor this token names (or a new one if there is no token)."""
    claim = signer.read_visitor_token(token, site_id=site.id) if token is not None else None
    lang = fields.language(language, LANGUAGES)
    url = page_url[:2048] if isinstance(page_url, str) else None
    seen = {"ip": ip, "user_agent": (user_agent or "")[:512] or None, "last_page_url": url}
    if lang:
        seen["language"] = lang

    def job(tx: Tx) -> tuple[Visitor, Any]:
        if claim is None:
            visitor = store.insert_visitor(tx.conn, id=uuid.uuid4().hex, site_id=site.id, **seen)
            return visitor, None
        visitor = store.get_visitor(tx.conn, claim.visitor_id)
        if not _holds(visitor, claim, site):
            raise InvalidToken()
        store.touch_visitor(tx.conn, visitor.id, **seen)
        return visitor, conversation_store.latest_open_conversation(tx.conn, visitor.id)

    visitor, conversation = await writer.run(job)
    token = signer.visitor_token(visitor.id, site.id, visitor.token_generation)
    return VisitorSession(token, visitor, conversation_ref(conversation))


def _holds(visitor: Visitor | None, claim: VisitorClaim, site: Site) -> bool:
    """The token's visitor exists, on this site, and the token was not revoked since."""
    return visitor is not None and visitor.site_id == site.id and visitor.token_generation == claim.generation


async def revoke_tokens(writer: GroupWriter, visitor_id: str) -> bool:
    """Every token this visitor was given stops working (invalid_token); their next visit
    starts a new anonymous visitor. False if there is no such visitor."""
    return await writer.run(lambda tx: store.revoke_tokens(tx.conn, visitor_id))


async def check_visitor(db: Database, signer: Signer, site: Site, token: Any) -> tuple[Visitor, dict[str, Any] | None]:
    """For a socket's hello: the token's visitor and their current conversation."""
    claim = signer.read_visitor_token(token, site_id=site.id)

    def read(conn: Connection) -> tuple[Visitor, dict[str, Any] | None]:
        visitor = store.get_visitor(conn, claim.visitor_id)
        if not _holds(visitor, claim, site):
            raise InvalidToken()
        assert visitor is not None
        return visitor, conversation_ref(conversation_store.latest_open_conversation(conn, visitor.id))

    return await db.read(read)


async def identify(writer: GroupWriter, claim: VisitorClaim, data: dict[str, Any], *, region: str | None = None) -> Visitor:
    """The visitor says who they are; each given field is checked, the rest kept."""
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = fields.text(data["name"], "name", max_chars=200, required=False)
    if "email" in data:
        changes["email"] = fields.email(data["email"])
    if "phone" in data:
        changes["phone"] = fields.phone(data["phone"], region=region)

    def job(tx: Tx) -> Visitor:
        visitor = store.update_visitor(tx.conn, claim.visitor_id, **changes) if changes else None
        visitor = visitor or store.get_visitor(tx.conn, claim.visitor_id)
        if visitor is None:
            raise InvalidToken()
        if changes:
            for summary in conversation_store.list_summaries_for_visitor(tx.conn, visitor.id):
                tx.append_event(
                    events.CONVERSATION_UPDATED, {"conversation": summary}, site_id=visitor.site_id,
                    conversation_id=summary["id"],
                )
        return visitor

    return await writer.run(job)
