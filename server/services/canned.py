"""Canned answers: text an operator inserts by typing its shortcut (`/price`) in the reply
box. Shared answers are everyone's and only admins change them; personal ones belong to
one operator, and win over a shared answer with the same shortcut. Variables
({visitor_name}, {operator_name}) are filled in by the console when it inserts one.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FrontdeskError, Invalid, NotFound
from ..store import canned as store
from ..store.canned import Canned
from ..store.db import Database
from ..store.operators import Operator
from ..store.writer import GroupWriter, Tx
from . import fields

MAX_BODY_CHARS = 5000
MAX_PER_SCOPE = 500  # answers shared, or one operator's: a list a person can still use
# Letters (any alphabet), digits, - and _: what follows "/" in the reply box.
_SHORTCUT = re.compile(r"^[^\W]([\w-]{0,31})$")


class AdminOnly(FrontdeskError):
    code = "forbidden"
    status = 403


def check_shortcut(value: Any) -> str:
    if isinstance(value, str):
        value = value.strip().lstrip("/").lower()
    if not isinstance(value, str) or not _SHORTCUT.match(value):
        raise Invalid(field="shortcut")
    return value


def check_body(value: Any) -> str:
    body = fields.text(value, "body", max_chars=MAX_BODY_CHARS)
    assert body is not None
    return body


def check_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound(field="canned_id") from None
    if not 0 < number < 2**31:
        raise NotFound(field="canned_id")
    return number


def _may_change(operator: Operator, canned: Canned) -> None:
    if canned.shared and operator.role != "admin":
        raise AdminOnly(field="shared")
    if not canned.shared and canned.operator_id != operator.id:
        raise NotFound(field="canned_id")  # someone else's: as if it did not exist


async def list_canned(db: Database, operator: Operator) -> list[Canned]:
    return await db.read(lambda conn: store.list_for(conn, operator.id))


async def create(writer: GroupWriter, operator: Operator, data: dict[str, Any]) -> Canned:
    shortcut = check_shortcut(data.get("shortcut"))
    body = check_body(data.get("body"))
    shared = data.get("shared", False)
    if not isinstance(shared, bool):
        raise Invalid(field="shared")
    if shared and operator.role != "admin":
        raise AdminOnly(field="shared")
    owner = None if shared else operator.id

    def job(tx: Tx) -> Canned:
        if store.find_shortcut(tx.conn, owner, shortcut) is not None:
            raise Invalid(field="shortcut", reason="taken")
        if len([c for c in store.list_for(tx.conn, operator.id) if c.operator_id == owner]) >= MAX_PER_SCOPE:
            raise Invalid(field="shortcut", reason="too_many", max=MAX_PER_SCOPE)
        return store.insert_canned(tx.conn, operator_id=owner, shortcut=shortcut, body=body)

    return await writer.run(job)


async def change(writer: GroupWriter, operator: Operator, canned_id: Any, data: dict[str, Any]) -> Canned:
    number = check_id(canned_id)
    shortcut = check_shortcut(data.get("shortcut"))
    body = check_body(data.get("body"))

    def job(tx: Tx) -> Canned:
        canned = store.get(tx.conn, number)
        if canned is None:
            raise NotFound(field="canned_id")
        _may_change(operator, canned)
        other = store.find_shortcut(tx.conn, canned.operator_id, shortcut)
        if other is not None and other.id != canned.id:
            raise Invalid(field="shortcut", reason="taken")
        store.update_canned(tx.conn, canned.id, shortcut=shortcut, body=body)
        changed = store.get(tx.conn, canned.id)
        assert changed is not None
        return changed

    return await writer.run(job)


async def remove(writer: GroupWriter, operator: Operator, canned_id: Any) -> None:
    number = check_id(canned_id)

    def job(tx: Tx) -> None:
        canned = store.get(tx.conn, number)
        if canned is None:
            raise NotFound(field="canned_id")
        _may_change(operator, canned)
        store.delete_canned(tx.conn, canned.id)

    await writer.run(job)
