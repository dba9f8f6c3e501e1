"""Queries for the lead pipeline: status (and why a lead was lost), owner, tags and private
notes (schema 0015). The lead's own row and its journey are store/leads.py's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, desc, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from .db import iso, utcnow
from .leads import lead_from_row
from .schema import lead_notes, lead_tags, leads, operators, sites

STATUSES = ("new", "contacted", "qualified", "won", "lost")


def pipeline_of(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """Where the lead stands: status, lost_reason, status_changed_at, owner {id, name} or
    None, tags (sorted). None if there is no such lead."""
    row = conn.execute(
        select(leads.c.status, leads.c.lost_reason, leads.c.status_changed_at, leads.c.owner_id,
               operators.c.name.label("owner_name"))
        .select_from(leads.outerjoin(operators, operators.c.id == leads.c.owner_id))
        .where(leads.c.id == lead_id)
    ).first()
    if row is None:
        return None
    return {
        "status": row.status, "lost_reason": row.lost_reason, "status_changed_at": iso(row.status_changed_at),
        "owner": {"id": row.owner_id, "name": row.owner_name} if row.owner_id is not None else None,
        "tags": list_tags(conn, lead_id),
    }


def set_status(conn: Connection, lead_id: str, status: str, lost_reason: str | None) -> None:
    conn.execute(update(leads).where(leads.c.id == lead_id).values(
        status=status, lost_reason=lost_reason, status_changed_at=utcnow()
    ))


def set_lost_reason(conn: Connection, lead_id: str, lost_reason: str | None) -> None:
    conn.execute(update(leads).where(leads.c.id == lead_id).values(lost_reason=lost_reason))


def set_owner(conn: Connection, lead_id: str, owner_id: int | None) -> None:
    conn.execute(update(leads).where(leads.c.id == lead_id).values(owner_id=owner_id))


def site_name(conn: Connection, site_id: int) -> str | None:
    return conn.execute(select(sites.c.name).where(sites.c.id == site_id)).scalar_one_or_none()


# ---- tags


def list_tags(conn: Connection, lead_id: str) -> list[str]:
    return list(conn.execute(select(lead_tags.c.tag).where(lead_tags.c.lead_id == lead_id).order_by(lead_tags.c.tag)).scalars())


def tags_of(conn: Connection, lead_ids: list[str]) -> dict[str, list[str]]:
    """Tags of many leads at once (the board), each list sorted."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(lead_ids), 500):  # bounded IN lists
        rows = conn.execute(
            select(lead_tags.c.lead_id, lead_tags.c.tag).where(lead_tags.c.lead_id.in_(lead_ids[start:start + 500]))
            .order_by(lead_tags.c.lead_id, lead_tags.c.tag)
        )
        for lead_id, tag in rows:
            found.setdefault(lead_id, []).append(tag)
    return found


def insert_tag(conn: Connection, lead_id: str, site_id: int, tag: str) -> None:
    conn.execute(insert(lead_tags).values(lead_id=lead_id, tag=tag, site_id=site_id))


def delete_tag(conn: Connection, lead_id: str, tag: str) -> bool:
    result = conn.execute(delete(lead_tags).where(and_(lead_tags.c.lead_id == lead_id, lead_tags.c.tag == tag)))
    return bool(result.rowcount)


# ---- notes


def _note(row: Any) -> dict[str, Any]:
    author = {"id": row.operator_id, "name": row.operator_name} if row.operator_id is not None else None
    return {"id": row.id, "lead_id": row.lead_id, "body": row.body, "author": author, "created_at": iso(row.created_at),
            "edited_at": iso(row.edited_at)}


def _notes_query() -> Any:
    return (
        select(lead_notes, operators.c.name.label("operator_name"))
        .select_from(lead_notes.outerjoin(operators, operators.c.id == lead_notes.c.operator_id))
    )


def insert_note(conn: Connection, lead_id: str, operator_id: int, body: str) -> dict[str, Any]:
    note_id = conn.execute(
        insert(lead_notes).values(lead_id=lead_id, operator_id=operator_id, body=body, created_at=utcnow())
        .returning(lead_notes.c.id)
    ).scalar_one()
    return _note(conn.execute(_notes_query().where(lead_notes.c.id == note_id)).one())


def get_note(conn: Connection, note_id: int) -> dict[str, Any] | None:
    row = conn.execute(_notes_query().where(lead_notes.c.id == note_id)).first()
    return _note(row) if row else None


def update_note(conn: Connection, note_id: int, body: str) -> dict[str, Any]:
    conn.execute(update(lead_notes).where(lead_notes.c.id == note_id).values(body=body, edited_at=utcnow()))
    return _note(conn.execute(_notes_query().where(lead_notes.c.id == note_id)).one())


def delete_note(conn: Connection, note_id: int) -> None:
    conn.execute(delete(lead_notes).where(lead_notes.c.id == note_id))


def list_notes(conn: Connection, lead_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` notes, oldest first."""
    rows = list(conn.execute(_notes_query().where(lead_notes.c.lead_id == lead_id).order_by(desc(lead_notes.c.id)).limit(limit)))
    return [_note(r) for r in reversed(rows)]


def count_notes(conn: Connection, lead_id: str) -> int:
    return int(conn.execute(select(func.count()).select_from(lead_notes).where(lead_notes.c.lead_id == lead_id)).scalar_one())


# ---- merges


def move_pipeline(conn: Connection, from_id: str, to_id: str) -> None:
    """A merge: the absorbed lead's notes and tags now belong to the survivor (a tag both
    had stays once)."""
    conn.execute(update(lead_notes).where(lead_notes.c.lead_id == from_id).values(lead_id=to_id))
    kept = set(list_tags(conn, to_id))
    for row in conn.execute(select(lead_tags).where(lead_tags.c.lead_id == from_id)).all():
        if row.tag not in kept:
            insert_tag(conn, to_id, row.site_id, row.tag)
    conn.execute(delete(lead_tags).where(lead_tags.c.lead_id == from_id))


# ---- the board


NOBODY = 0  # the owner filter's "nobody"


def board(
    conn: Connection, *, site_ids: Any = None, per_status: int = 100, owner_id: int | None = None,
    tag: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Per status: the live leads most recently moved or seen first (at most ``per_status``),
    and how many there are in all; each lead with its site's name, owner and tags.
    ``site_ids``: only those sites'; ``owner_id``: only that operator's (NOBODY: no owner's);
    ``tag``: only leads with that tag."""
    columns: dict[str, dict[str, Any]] = {}
    for status in STATUSES:
        where = and_(leads.c.merged_into.is_(None), leads.c.status == status)
        if site_ids is not None:
            where = and_(where, leads.c.site_id.in_(sorted(site_ids)))
        if owner_id is not None:
            where = and_(where, leads.c.owner_id.is_(None) if owner_id == NOBODY else leads.c.owner_id == owner_id)
        if tag is not None:
            where = and_(where, exists().where(and_(lead_tags.c.lead_id == leads.c.id, lead_tags.c.tag == tag)))
        total = conn.execute(select(func.count()).select_from(leads).where(where)).scalar_one()
        rows = conn.execute(
            select(leads, sites.c.name.label("site_name"), operators.c.name.label("owner_name"))
            .select_from(leads.join(sites, sites.c.id == leads.c.site_id)
                         .outerjoin(operators, operators.c.id == leads.c.owner_id))
            .where(where)
            .order_by(desc(func.coalesce(leads.c.status_changed_at, leads.c.last_seen_at)), desc(leads.c.id))
            .limit(per_status)
        ).all()
        found = [
            {**lead_from_row(r), "site_name": r.site_name, "lost_reason": r.lost_reason,
             "owner": {"id": r.owner_id, "name": r.owner_name} if r.owner_id is not None else None}
            for r in rows
        ]
        tags = tags_of(conn, [lead["id"] for lead in found])
        for lead in found:
            lead["tags"] = tags.get(lead["id"], [])
        columns[status] = {"total": int(total), "leads": found}
    return columns
