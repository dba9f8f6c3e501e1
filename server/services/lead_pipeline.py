"""The lead pipeline: operators move a lead new → contacted → qualified → won / lost (lost
with a reason), tag it, give it an owner and write private notes on it (docs/leads.md).

Rules:
* Only an operator who may see the lead's site may read or change its pipeline; to anyone
  else the lead does not exist (NotFound), as for conversations. Agents and admins alike
  work leads.
* A merged lead's id leads to the lead it was merged into (what the console shows).
* The owner is an active operator who may see the lead's site, or nobody.
* A note is changed or deleted by its author or an admin (anyone else: NoteNotYours, 403).
* Every change is one writer job: the row(s) and a ``lead.updated`` event with ``changed``
  (status, lost_reason, owner_id, tags, notes), the whole ``pipeline``, ``by`` (the operator)
  and, for a new or edited note, ``note``; for a deleted one, ``deleted_note`` ({id}).
  A request that changes nothing appends no event.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import FrontdeskError, Invalid, NotFound
from ..store import lead_pipeline as store
from ..store import leads as lead_store
from ..store import operators as operator_store
from ..store.db import Database
from ..store.lead_pipeline import STATUSES  # noqa: F401 - the statuses, for the web layer
from ..store.operators import Operator
from ..store.writer import GroupWriter, Tx
from . import events, fields

LOST = "lost"
MAX_LOST_REASON = 500  # leads.lost_reason is String(500)
MAX_TAG = 50  # lead_tags.tag is String(50)
MAX_TAGS = 20  # per lead: more stops being a tag and becomes noise
MAX_NOTE = 5000
_SPACES = re.compile(r"\s+")



class NoteNotYours(FrontdeskError):
    """Another operator's note, and the operator is not an admin."""

    code = "forbidden"
    status = 403

    def __init__(self) -> None:
        super().__init__(field="note_id", reason="not_yours")


# ---- checks (pure)


def check_lead_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise NotFound(field="lead_id")
    return value


def check_status(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in STATUSES:
        raise Invalid(field="status")
    return value.strip().lower()


def check_lost_reason(status: str, value: Any) -> str | None:
    """Required for lost (what went wrong is what the team learns from); dropped otherwise."""
    if status != LOST:
        return None
    reason = fields.text(value, "lost_reason", max_chars=MAX_LOST_REASON)
    assert reason is not None
    return reason


def check_tag(value: Any) -> str:
    """A tag as stored: NFC, trimmed, runs of spaces made one, lower-case; 1–50 characters of
    letters, digits, punctuation, symbols and spaces. Commas (they separate tags where
    people type several) and invisible characters (controls, bidi overrides, zero-width
    joiners: a tag that looks like another) are refused. Markup characters are allowed: a
    tag is text and is shown as text everywhere."""
    if not isinstance(value, str):
        raise Invalid(field="tag")
    if "\n" in value or "\r" in value:
        raise Invalid(field="tag", reason="chars")
    tag = _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip().lower()
    if not tag:
        raise Invalid(field="tag")
    if len(tag) > MAX_TAG:
        raise Invalid(field="tag", reason="length", max=MAX_TAG)
    for char in tag:
        if char == "," or (char != " " and unicodedata.category(char)[0] in "CZ"):
            raise Invalid(field="tag", reason="chars")
    return tag


def check_owner(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():  # from a form
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise Invalid(field="owner_id")
    return value


def check_note_id(value: Any) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) < 19:  # from a path or a form
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise NotFound(field="note_id")
    return value


def check_note(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Invalid(field="body", reason="empty_note")
    body = fields.text(value, "body", max_chars=MAX_NOTE)
    assert body is not None
    return body


# ---- changes


def _lead(conn: Connection, lead_id: str, operator: Operator) -> Any:
    """The live lead (following merges), if the operator may see its site."""
    row = lead_store.get_lead_row(conn, lead_id)
    for _ in range(20):  # a merge chain is short; never loop forever on bad data
        if row is None or not row.merged_into:
            break
        row = lead_store.get_lead_row(conn, row.merged_into)
    if row is None or row.merged_into or not operator.may_see_site(row.site_id):
        raise NotFound(field="lead_id")
    return row


def _announce(tx: Tx, row: Any, operator: Operator, changed: list[str], **extra: Any) -> dict[str, Any]:
    pipeline = store.pipeline_of(tx.conn, row.id)
    assert pipeline is not None
    payload = {
        "lead": lead_store.get_lead(tx.conn, row.id), "changed": changed, "pipeline": pipeline,
        "by": {"kind": "operator", "id": operator.id, "name": operator.name}, **extra,
    }
    tx.append_event(events.LEAD_UPDATED, payload, site_id=row.site_id)
    return pipeline


async def set_status(
    writer: GroupWriter, operator: Operator, lead_id: Any, status: Any, lost_reason: Any = None
) -> dict[str, Any]:
    """Move the lead; lost needs a reason (another status clears it). Returns the pipeline."""
    lead_id = check_lead_id(lead_id)
    status = check_status(status)
    reason = check_lost_reason(status, lost_reason)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        if row.status == status and row.lost_reason == reason:
            return store.pipeline_of(tx.conn, row.id)  # type: ignore[return-value]
        if row.status == status:  # lost, with another reason
            store.set_lost_reason(tx.conn, row.id, reason)
            return _announce(tx, row, operator, ["lost_reason"])
        store.set_status(tx.conn, row.id, status, reason)
        changed = ["status"] + (["lost_reason"] if (row.lost_reason or None) != reason else [])
        return _announce(tx, row, operator, changed)

    return await writer.run(job)


async def set_owner(writer: GroupWriter, operator: Operator, lead_id: Any, owner_id: Any) -> dict[str, Any]:
    """Give the lead to an operator who may work its site (None: nobody)."""
    lead_id = check_lead_id(lead_id)
    target_id = check_owner(owner_id)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        if target_id is not None:
            target = operator_store.get_operator(tx.conn, target_id)
            if target is None or not target.active or not target.may_see_site(row.site_id):
                raise Invalid(field="owner_id")  # nobody owns a lead they cannot see
        if row.owner_id == target_id:
            return store.pipeline_of(tx.conn, row.id)  # type: ignore[return-value]
        store.set_owner(tx.conn, row.id, target_id)
        return _announce(tx, row, operator, ["owner_id"])

    return await writer.run(job)


async def add_tag(writer: GroupWriter, operator: Operator, lead_id: Any, tag: Any) -> dict[str, Any]:
    lead_id = check_lead_id(lead_id)
    clean = check_tag(tag)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        tags = store.list_tags(tx.conn, row.id)
        if clean in tags:
            return store.pipeline_of(tx.conn, row.id)  # type: ignore[return-value]
        if len(tags) >= MAX_TAGS:
            raise Invalid(field="tag", reason="too_many", max=MAX_TAGS)
        store.insert_tag(tx.conn, row.id, row.site_id, clean)
        return _announce(tx, row, operator, ["tags"])

    return await writer.run(job)


async def remove_tag(writer: GroupWriter, operator: Operator, lead_id: Any, tag: Any) -> dict[str, Any]:
    lead_id = check_lead_id(lead_id)
    clean = check_tag(tag)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        if not store.delete_tag(tx.conn, row.id, clean):
            return store.pipeline_of(tx.conn, row.id)  # type: ignore[return-value]
        return _announce(tx, row, operator, ["tags"])

    return await writer.run(job)


async def add_note(writer: GroupWriter, operator: Operator, lead_id: Any, body: Any) -> dict[str, Any]:
    """A private note on the lead (operators and integrators only). Returns the note."""
    lead_id = check_lead_id(lead_id)
    text = check_note(body)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        note = store.insert_note(tx.conn, row.id, operator.id, text)
        _announce(tx, row, operator, ["notes"], note=note)
        return note

    return await writer.run(job)


def may_change_note(operator: Operator, note: dict[str, Any]) -> bool:
    """Its author, or an admin."""
    return operator.is_admin or (note["author"] is not None and note["author"]["id"] == operator.id)


def _own_note(conn: Connection, row: Any, note_id: int, operator: Operator) -> dict[str, Any]:
    """The lead's note, if the operator may change it."""
    note = store.get_note(conn, note_id)
    if note is None or note["lead_id"] != row.id:
        raise NotFound(field="note_id")
    if not may_change_note(operator, note):
        raise NoteNotYours()
    return note


async def edit_note(writer: GroupWriter, operator: Operator, lead_id: Any, note_id: Any, body: Any) -> dict[str, Any]:
    """A note's new text (its author's or an admin's change). Returns the note."""
    lead_id = check_lead_id(lead_id)
    note_id = check_note_id(note_id)
    text = check_note(body)

    def job(tx: Tx) -> dict[str, Any]:
        row = _lead(tx.conn, lead_id, operator)
        note = _own_note(tx.conn, row, note_id, operator)
        if note["body"] == text:
            return note
        note = store.update_note(tx.conn, note_id, text)
        _announce(tx, row, operator, ["notes"], note=note)
        return note

    return await writer.run(job)


async def delete_note(writer: GroupWriter, operator: Operator, lead_id: Any, note_id: Any) -> None:
    """Delete a note (its author or an admin)."""
    lead_id = check_lead_id(lead_id)
    note_id = check_note_id(note_id)

    def job(tx: Tx) -> None:
        row = _lead(tx.conn, lead_id, operator)
        _own_note(tx.conn, row, note_id, operator)
        store.delete_note(tx.conn, note_id)
        _announce(tx, row, operator, ["notes"], deleted_note={"id": note_id})

    await writer.run(job)


# ---- reading


def owners_for(conn: Connection, site_id: int) -> list[dict[str, Any]]:
    """Who may own a lead of this site: active operators who may see it."""
    return [{"id": o.id, "name": o.name} for o in operator_store.list_active_operators(conn) if o.may_see_site(site_id)]


async def lead_view(db: Database, operator: Operator, lead_id: Any) -> dict[str, Any]:
    """Everything the lead page and the card's pipeline show: lead, site name, pipeline,
    notes, possible owners, conversations, whether the operator may change anyone's notes
    (an admin). NotFound as for changes."""
    lead_id = check_lead_id(lead_id)

    def read(conn: Connection) -> dict[str, Any]:
        row = _lead(conn, lead_id, operator)
        site = store.site_name(conn, row.site_id)
        return {
            "lead": lead_store.lead_from_row(row), "site_name": site, "pipeline": store.pipeline_of(conn, row.id),
            "notes": store.list_notes(conn, row.id), "owners": owners_for(conn, row.site_id),
            "may_change_any_note": operator.is_admin,  # else only the operator's own
            "conversations": lead_store.lead_conversations(conn, row.id),
        }

    return await db.read(read)


async def board(
    db: Database, operator: Operator, *, per_status: int = 100, site_id: int | None = None, owner: str = "",
    tag: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The board the operator may see, optionally of one of their sites, of one owner
    (``owner``: "" anyone, "me", "none") and with one tag."""
    site_ids = operator.site_ids
    if site_id is not None:
        site_ids = frozenset({site_id}) if operator.may_see_site(site_id) else frozenset()
    owner_id = {"me": operator.id, "none": store.NOBODY}.get(owner)
    return await db.read(lambda conn: store.board(conn, site_ids=site_ids, per_status=per_status, owner_id=owner_id,
                                                  tag=tag))
