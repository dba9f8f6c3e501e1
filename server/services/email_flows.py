"""Which emails a change sends, to whom, in which language: called inside the change's
write job, so the emails are queued in its transaction (services/emails.queue_email).

* a contact-form message: the site's notification address, else every active operator
  (each in their console language), Reply-To the visitor; and the visitor's copy if asked;
* a chat message while no operator is online (a conversation's first): the same operators;
* an operator's reply in a conversation that came through the contact form with an email:
  to that email, Reply-To a signed address that brings the answer back (docs/email.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..locales import DEFAULT
from ..security import Signer
from ..store import contacts as contact_store
from ..store import sites as site_store
from ..store.contacts import Submission
from ..store.sites import Site
from ..store.writer import Tx
from .emails import queue_email


@dataclass(frozen=True)
class Mail:
    """What the flows need besides a transaction; the app holds one only when email is
    set up (FRONTDESK_SMTP_HOST), so no mail is queued that nothing would send."""

    signer: Signer
    reply_domain: str  # empty: replies are not taken back, the visitor answers in the chat
    console_url: str | None  # FRONTDESK_PUBLIC_URL's console, for the link in notifications

    def reply_address(self, conversation_id: str) -> str | None:
        """reply+<conversation>.<hmac>@<domain>: mail to it joins that conversation (docs/email.md)."""
        if not self.reply_domain:
            return None
        return f"reply+{conversation_id}.{self.signer.reply_mac(conversation_id)}@{self.reply_domain}"

    def conversation_of(self, address: str) -> str | None:
        """The conversation a reply address names, if its signature holds (else None)."""
        local, _, domain = address.strip().lower().rpartition("@")
        if domain != self.reply_domain.lower() or not local.startswith("reply+"):
            return None
        conversation_id, _, mac = local.removeprefix("reply+").partition(".")
        if not conversation_id or len(conversation_id) > 32 or not self.signer.reply_mac_matches(conversation_id, mac):
            return None
        return conversation_id


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


def operator_replied(tx: Tx, mail: Mail, conversation: Any, operator_name: str, body: str) -> None:
    """An operator's reply in a conversation that came through the contact form with an
    email goes to that email too (the visitor may never come back to the page)."""
    submission = contact_store.latest_with_email(tx.conn, conversation.id)
    if submission is None or submission.email is None:
        return
    site = site_store.get_site(tx.conn, conversation.site_id)
    reply_to = mail.reply_address(conversation.id)
    queue_email(
        tx, to=submission.email, template="operator_reply", lang=submission.language, reply_to=reply_to,
        context={"site_name": site.name if site else "", "operator_name": operator_name, "body": body,
                 "can_reply": reply_to is not None},
        site_id=conversation.site_id, conversation_id=conversation.id,
    )


def offline_message(tx: Tx, mail: Mail, site_id: int, conversation_id: str, body: str, visitor_name: str | None) -> None:
    """A conversation's first message, written while no operator was online: the operators hear of it."""
    site = site_store.get_site(tx.conn, site_id)
    if site is None:
        return
    context = {"site_name": site.name, "who": visitor_name or "", "body": body, "console_url": mail.console_url}
    for address, lang in _operators(tx, site):
        queue_email(
            tx, to=address, template="offline_message", lang=lang, context=dict(context),
            site_id=site_id, conversation_id=conversation_id,
        )
