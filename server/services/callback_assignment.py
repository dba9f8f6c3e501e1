"""Who calls a callback back: its assigned operator.

A new callback goes to the operator who already owns the visitor — the lead's owner
(the sales pipeline's ``leads.owner_id``), else the operator assigned to the visitor's
conversation — when that operator is active and works the site; otherwise it stays
unassigned and anyone on the site may take it. In the queue an operator takes one
("Take") or gives it to another operator of the site, or back to nobody; recording an
outcome on an unassigned callback makes the caller its assignee (the next try after
"no answer" is theirs). Every assignment is a ``callback.updated`` event.

The email reminder (workers/reminders.py) goes to the assignee; an unassigned
callback's goes to every active operator who works the site (``reminder_recipients``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from ..errors import Invalid, NotFound
from ..store import callbacks as store
from ..store import conversations as conversation_store
from ..store import leads as lead_store
from ..store import operators as operator_store
from ..store.callbacks import Callback
from ..store.operators import Operator
from ..store.writer import GroupWriter, Tx
from . import events


def _works_site(operator: Operator | None, site_id: int) -> bool:
    return operator is not None and operator.active and operator.may_see_site(site_id)


def default_assignee(conn: Connection, callback: Callback) -> int | None:
    """The operator who already owns this visitor (see the module's docstring), or None."""
    lead = lead_store.lead_of_visitor(conn, callback.visitor_id)
    while lead is not None and lead.merged_into:
        lead = lead_store.get_lead_row(conn, lead.merged_into)
    candidates: list[int | None] = [lead.owner_id if lead is not None else None]
    if callback.conversation_id:
        conversation = conversation_store.get_conversation_row(conn, callback.conversation_id)
        candidates.append(conversation.assignee_id if conversation is not None else None)
    for operator_id in candidates:
        if operator_id is not None and _works_site(operator_store.get_operator(conn, operator_id), callback.site_id):
            return operator_id
    return None


def check_assignee(value: Any) -> int | None:
    """The form's ``assignee_id``: an operator's id, or empty for nobody."""
    if value in (None, ""):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        number = int(value.strip())
    else:
        raise Invalid(field="assignee_id")
    if number <= 0:
        raise Invalid(field="assignee_id")
    return number


async def assign(writer: GroupWriter, operator: Operator, callback_id: Any, assignee_id: Any) -> Callback:
    """``operator`` gives the callback to ``assignee_id`` (themself, another operator who
    works its site, or None: nobody). Only open callbacks of the operator's own sites."""
    target_id = check_assignee(assignee_id)
    if not isinstance(callback_id, str) or len(callback_id) > 32:
        raise NotFound("not_found", field="callback")

    def job(tx: Tx) -> Callback:
        callback = store.get_callback(tx.conn, callback_id)
        if callback is None or not operator.may_see_site(callback.site_id):
            raise NotFound("not_found", field="callback")
        if callback.status not in store.OPEN:
            raise Invalid(field="status", reason="closed", status=callback.status)
        if target_id is not None and not _works_site(operator_store.get_operator(tx.conn, target_id), callback.site_id):
            raise Invalid(field="assignee_id")  # nobody calls back for a site they cannot see
        if callback.assignee_id == target_id:
            return callback
        updated = store.update_callback(tx.conn, callback.id, assignee_id=target_id)
        assert updated is not None
        tx.append_event(
            events.CALLBACK_UPDATED,
            {"callback": updated.public(), "by": "operator", "operator_id": operator.id, "change": "assigned"},
            site_id=callback.site_id, conversation_id=callback.conversation_id,
        )
        return updated

    return await writer.run(job)


def reminder_recipients(conn: Connection, callback: Callback) -> list[Operator]:
    """Whom the email reminder goes to: the assignee (if still active and on the site),
    else every active operator who works the site."""
    if callback.assignee_id is not None:
        assignee = operator_store.get_operator(conn, callback.assignee_id)
        if _works_site(assignee, callback.site_id):
            return [assignee]  # type: ignore[list-item]
    return [o for o in operator_store.list_operators(conn) if _works_site(o, callback.site_id)]
