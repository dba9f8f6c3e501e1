"""Visitors: anonymous until they say who they are; known by a signed token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import FrontdeskError, Invalid, InvalidToken
from ..security import Signer, VisitorClaim
from ..store import conversations as conversation_store
from ..store import visitors as store
from ..store.db import Database
from ..store.sites import Site
from ..store.visitors import Visitor
from ..store.writer import GroupWriter, Tx
from ..throttle import Throttle
from . import events, fields, leads, rates, verified
from .geo import Geolocator
from .sites import LANGUAGES


@dataclass(frozen=True)
class VisitorSession:
    token: str
    visitor: Visitor
    conversation: dict[str, Any] | None  # {"id", "last_seq", "status", "read_seq"}


def conversation_ref(row: Any) -> dict[str, Any] | None:
    """What the visitor is told of their conversation: read_seq is the operator's "Seen"."""
    return {"id": row.id, "last_seq": row.last_seq, "status": row.status, "read_seq": row.read_seq} if row else None


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
    geo: Geolocator | None = None,
) -> VisitorSession:
    """The visitor this token names (or a new one if there is no token), and their lead
    created or brought up to date (address, place, browser: worked out off the loop)."""
    claim = signer.read_visitor_token(token, site_id=site.id) if token is not None else None
    lang = fields.language(language, LANGUAGES)
    try:
        url = fields.page_url(page_url, "page")
    except FrontdeskError:
        url = None  # the landing page is a nicety: a bad one does not refuse the visitor
    arrived = await leads.arrival(geo or Geolocator(), site, ip, user_agent)
    seen = {"ip": arrived.ip, "user_agent": (user_agent or "")[:512] or None, "last_page_url": url}
    if lang:
        seen["language"] = lang
    lead_key = uuid.uuid4().hex

    def job(tx: Tx) -> tuple[Visitor, Any]:
        if claim is None:
            visitor = store.insert_visitor(tx.conn, id=uuid.uuid4().hex, site_id=site.id, **seen)
            leads.on_session(tx, site, visitor.id, None, arrived, language=lang, page_url=url, lead_key=lead_key)
            return visitor, None
        visitor = store.get_visitor(tx.conn, claim.visitor_id)
        if not _holds(visitor, claim, site):
            raise InvalidToken()
        assert visitor is not None
        store.touch_visitor(tx.conn, visitor.id, **seen)
        leads.on_session(tx, site, visitor.id, visitor.lead_id, arrived, language=lang, page_url=url, lead_key=lead_key)
        return visitor, conversation_store.latest_conversation(tx.conn, visitor.id)

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
        return visitor, conversation_ref(conversation_store.latest_conversation(conn, visitor.id))

    return await db.read(read)


IDENTITY_FIELDS = ("name", "email", "phone")
VERIFIED_FIELDS = ("user_id", "user_hash")  # a site's own user, vouched for by HMAC


@dataclass(frozen=True)
class Identified:
    """What an identify stored (``accepted``) and what it refused, field by field, and why.
    ``visitor`` is the record the device is from now on: another one than the token's when
    the visitor was verified as a user whose record another device made (``switched``:
    the caller hands the device that record's token; services/verified.py)."""

    visitor: Visitor
    accepted: tuple[str, ...]
    refused: dict[str, FrontdeskError]
    switched: bool = False


def _identity_value(field: str, value: Any, region: str | None) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # a lone surrogate ('\ud800') cannot be stored anywhere
        except UnicodeEncodeError:
            raise Invalid(field=field) from None
    if field == "name":
        return fields.text(value, "name", max_chars=200, required=False)
    if field == "email":
        return fields.email(value)
    return fields.phone(value, region=region)


async def identify(
    writer: GroupWriter, claim: VisitorClaim, data: dict[str, Any], *, region: str | None = None,
    site: Site | None = None,
) -> Identified:
    """The visitor says who they are. Each given field is checked on its own: the valid
    ones are stored even when another is refused (a bad phone must not lose the email).
    ``user_id`` counts only with a valid ``user_hash`` (HMAC under the site's secret): the
    device then becomes the user's one visitor record (services/verified.py); a refused
    hash changes nothing. The lead takes every accepted field and merges with the site's
    leads of the same person."""
    changes: dict[str, Any] = {}
    refused: dict[str, FrontdeskError] = {}
    for field in IDENTITY_FIELDS:
        if field in data:
            try:
                changes[field] = _identity_value(field, data[field], region)
            except FrontdeskError as exc:
                refused[field] = exc
    user_id: str | None = None
    if site is not None and ("user_id" in data or "user_hash" in data):
        try:
            user_id = leads.verified_user(site, data.get("user_id"), data.get("user_hash"))
        except FrontdeskError as exc:
            refused["user_id" if exc.field == "user_id" else "user_hash"] = exc
    lead_changes = {**changes, **({"user_id": user_id} if user_id is not None else {})}

    def job(tx: Tx) -> Visitor:
        visitor = store.get_visitor(tx.conn, claim.visitor_id)
        if visitor is None:
            raise InvalidToken()
        device, same = visitor, True
        if user_id is not None:
            device, same = verified.device_visitor(tx, visitor.site_id, visitor, user_id)
        if changes:
            device = store.update_visitor(tx.conn, device.id, **changes) or device
        if same and device.id != visitor.id and visitor.lead_id:
            # The device's own record is the same person: its lead joins the user's.
            leads.on_identify(tx, visitor.site_id, visitor.id, {"user_id": user_id})
        if lead_changes:
            leads.on_identify(tx, device.site_id, device.id, lead_changes)
        if changes:
            for summary in conversation_store.list_summaries_for_visitor(tx.conn, device.id):
                tx.append_event(
                    events.CONVERSATION_UPDATED, {"conversation": summary}, site_id=device.site_id,
                    conversation_id=summary["id"],
                )
        return device

    accepted = tuple(changes) + (("user_id",) if user_id is not None else ())
    device = await writer.run(job)
    return Identified(device, accepted, refused, switched=device.id != claim.visitor_id)
