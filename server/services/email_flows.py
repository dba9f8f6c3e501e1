"""Which emails a change sends, to whom, in which language: called inside the change's
write job, so the emails are queued in its transaction (services/emails.queue_email).

* a contact-form message: the site's notification address, else every active operator
  (each in their console language), Reply-To the visitor; and the visitor's copy if asked;
* a chat message while no operator is online (a conversation's first): the same operators;
* an operator's reply in a conversation that came through the contact form with an email:
  to that email, Reply-To a signed address that brings the answer back (docs/email.md).
"""

from __future__ import annotations

from typing import Any

from ..locales import DEFAULT
from ..store import contacts as contact_store
from ..store.contacts import Submission
from ..store.sites import Site
from ..store.writer import Tx
from .emails import queue_email


def _operators(tx: Tx, site: Site) -> list[tuple[str, str]]:
    if site.notify_email:
        return [(site.notify_email, site.language or DEFAULT)]
    return [(email, lang or DEFAULT) for email, lang in contact_store.operator_recipients(tx.conn)]


def _who(name: str | None, email: str | None, phone: str | None) -> str:
    return name or email or phone or ""


def contact_submitted(tx: Tx, site: Site, submission: Submission, *, console_url: str | None) -> None:
    context: dict[str, Any] = {
        "site_name": site.name, "who": _who(submission.name, submission.email, submission.phone),
        "name": submission.name, "email": submission.email, "phone": submission.phone,
        "message": submission.message, "console_url": console_url,
    }
    for address, lang in _operators(tx, site):
        queue_email(
            tx, to=address, template="contact_submitted", lang=lang, context=context, reply_to=submission.email,
            site_id=site.id, conversation_id=submission.conversation_id,
        )
    if submission.send_copy and submission.email:
        queue_email(
            tx, to=submission.email, template="contact_copy", lang=submission.language,
            context={"site_name": site.name, "message": submission.message},
            site_id=site.id, conversation_id=submission.conversation_id,
        )
