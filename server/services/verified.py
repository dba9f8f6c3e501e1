"""Verified identity across devices (docs/leads.md).

A site vouches for its logged-in user with ``user_id`` + ``user_hash`` (HMAC under the
site's identity secret, checked by ``leads.verified_user``). The site keeps ONE visitor
record per verified user (``visitors.user_id``, unique per site): the first device verified
as that user makes its own record the user's; every other device **adopts** that record
(the visitor socket hands it the record's token, the panel reconnects with it). So every
device of the user shows the same conversation, a message from any of them lands in it and
is seen on all of them, and the operator has it in one place. Chosen over a socket that
follows several visitors' conversations: the message path, replay by seq, unread counts and
read receipts stay exactly as they are for one visitor.

What it never does:
* hand a record over without a valid hash (the caller only gets here with one);
* give one user's record to another: a browser whose record (or lead) belongs to another
  verified user (a shared computer) gets a fresh record and lead for the new user;
* move conversations: what a device wrote before it was verified stays with its own record
  (its lead merges into the user's, so the operator sees it on the same lead card).
"""

from __future__ import annotations

import uuid

from ..store import leads as lead_store
from ..store import visitors as store
from ..store.visitors import Visitor
from ..store.writer import Tx
from . import events

# What a fresh record for a new user on this browser keeps of the browser's old one.
_DEVICE_FIELDS = ("ip", "user_agent", "language", "last_page_url", "timezone")
_DEVICE_LEAD_FIELDS = ("ip", "country", "region", "city", "browser", "os", "device", "language", "timezone")


def device_visitor(tx: Tx, site_id: int, visitor: Visitor, user_id: str) -> tuple[Visitor, bool]:
    """The visitor record this device is from now on, verified as ``user_id``, and whether
    ``visitor`` (the device's record until now) is that same person: then its lead takes the
    user id and merges with the user's lead."""
    conn = tx.conn
    if visitor.user_id == user_id:
        return visitor, True
    same = visitor.user_id is None and _lead_user(tx, visitor) in (None, user_id)
    found = store.verified_visitor(conn, site_id, user_id)
    if found is not None:
        return found, same
    if same:
        updated = store.update_visitor(conn, visitor.id, user_id=user_id)
        assert updated is not None
        return updated, True
    return _fresh_visitor(tx, site_id, visitor, user_id), False


def _lead_user(tx: Tx, visitor: Visitor) -> str | None:
    row = lead_store.get_lead_row(tx.conn, visitor.lead_id) if visitor.lead_id else None
    while row is not None and row.merged_into:
        row = lead_store.get_lead_row(tx.conn, row.merged_into)
    return row.user_id if row is not None else None


def _fresh_visitor(tx: Tx, site_id: int, old: Visitor, user_id: str) -> Visitor:
    """A record and a lead of their own for a user who logged in on a browser that was
    another user's: the device (address, browser) is the same, the person is not."""
    conn = tx.conn
    device = store.device_fields(conn, old.id, _DEVICE_FIELDS)
    lead_row = lead_store.get_lead_row(conn, old.lead_id) if old.lead_id else None
    place = {k: getattr(lead_row, k) for k in _DEVICE_LEAD_FIELDS} if lead_row is not None else {}
    lead = lead_store.insert_lead(conn, id=uuid.uuid4().hex, site_id=site_id, **place)
    tx.append_event(events.LEAD_CREATED, {"lead": lead}, site_id=site_id)
    return store.insert_visitor(
        conn, id=uuid.uuid4().hex, site_id=site_id, user_id=user_id, lead_id=lead["id"], **device
    )
