"""The contact form: a message that is sure to reach someone.

Each submission becomes a conversation (the visitor's open one, else a new one) with the
message in it, fills in the visitor's name, email and phone, stores the consent given
(when, and to which text), appends ``contact.submitted``, and queues the emails: the
operators' notification and, if asked, the visitor's copy — all in one transaction.
A client-made id makes a double submit one submission.

Anti-spam without third parties, in this order: a honeypot field people never see, a
signed ticket that says how long the form was open (a robot sends at once), then, once
the fields are valid, rate limits per address and per site.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import FrontdeskError, Invalid, InvalidToken, RateLimited
from ..security import Signer
from ..store import contacts as store
from ..store import conversations as conversation_store
from ..store import visitors as visitor_store
from ..store.contacts import Submission
from ..store.db import Database, utcnow
from ..store.sites import Site
from ..store.writer import GroupWriter, Tx
from ..throttle import Throttle
from . import chat, conversations, email_flows, events, fields, leads, rates
from .sites import in_language

MESSAGE_MAX_CHARS = 5000
TICKET_MAX_AGE = 86400  # a form left open for a day gets a fresh ticket (the widget fetches one)
HONEYPOT = "website"  # a field hidden from people; robots fill in every field they find
# A number typed without its country code is read in the country of the visitor's language
# (8 701 123 45 67 in Kazakh is a Kazakh number); with a code, any country.
LANGUAGE_REGIONS = {"ru": "RU", "uk": "UA", "kk": "KZ"}


class NotAccepted(FrontdeskError):
    """A submission that looks automated (honeypot, too fast, no valid ticket): refused
    with a polite message; a person can always send again."""

    code = "not_accepted"
    status = 400

    def extra(self) -> dict[str, Any]:
        # Too fast: when sending again will do (the widget waits that long and sends by itself).
        return {"retry_after": self.params["retry_after"]} if "retry_after" in self.params else {}


@dataclass(frozen=True)
class Limits:
    per_ip_per_hour: int
    per_site_per_minute: int
    min_fill_seconds: float


@dataclass(frozen=True)
class Submitted:
    submission: Submission
    token: str | None  # the visitor's token: the widget keeps it, so the chat shows the replies
    created: bool  # False: a repeat of a submission already stored


@dataclass(frozen=True)
class Checked:
    client_id: str
    name: str | None
    email: str | None
    phone: str | None
    message: str
    send_copy: bool


def check_robot(signer: Signer, site: Site, data: dict[str, Any], *, min_fill_seconds: float) -> None:
    if data.get(HONEYPOT) not in (None, ""):
        raise NotAccepted(reason="honeypot")
    age = signer.form_ticket_age(data.get("ticket"), site_id=site.id, max_age=TICKET_MAX_AGE)
    if age is None:
        raise NotAccepted(field="ticket", reason="expired")
    if age < min_fill_seconds:
        raise NotAccepted(reason="too_fast", retry_after=max(1, math.ceil(min_fill_seconds - age)))  # never too soon


def check_fields(site: Site, data: dict[str, Any], *, region: str | None = None) -> Checked:
    """The fields by the same rules as everywhere (services/fields.py), the site's required
    ones present, and consent given: the first problem raises, naming its field."""
    required = set(site.contact_required)
    name = fields.text(data.get("name"), "name", max_chars=200, required="name" in required)
    email = fields.email(data.get("email"), required="email" in required)
    phone = fields.phone(data.get("phone"), region=region)
    if "phone" in required and phone is None:
        raise Invalid(field="phone", reason="required")
    if "email_or_phone" in required and email is None and phone is None:
        raise Invalid(field="email", reason="email_or_phone")
    message = fields.text(data.get("message"), "message", max_chars=MESSAGE_MAX_CHARS)
    assert message is not None
    if data.get("consent") is not True:
        raise Invalid(field="consent", reason="required")
    return Checked(fields.client_id(data.get("id")), name, email, phone, message, data.get("copy") is True and email is not None)


def consent_text(site: Site, lang: str, default: str) -> str:
    """The text the visitor agreed to: the site's in their language, else the widget's own."""
    return in_language(site.consent_text, lang) or default


async def check_rates(throttle: Throttle, site: Site, address: str, limits: Limits) -> None:
    """Per address an hour (a person sends one or two), per site a minute (a flood from many)."""
    verdict = await throttle.hit("contact_per_ip", address, limits.per_ip_per_hour, 3600.0)
    if not verdict.allowed:
        raise RateLimited(
            reason="contact", limit="contact_per_ip", retry_after=verdict.retry_after, max=limits.per_ip_per_hour
        )
    await rates.check_per_minute(
        throttle, "contact_per_site", str(site.id), per_minute=limits.per_site_per_minute, reason="contact_site",
    )


async def find(db: Database, site: Site, client_id: Any) -> Submission | None:
    if not isinstance(client_id, str) or len(client_id) > 64:
        return None
    return await db.read(lambda conn: store.find_by_client_id(conn, site.id, client_id))


async def submit(
    writer: GroupWriter,
    signer: Signer,
    site: Site,
    checked: Checked,
    *,
    token: Any,
    lang: str,
    consent: str,
    ip: str | None,
    user_agent: str | None,
    page_url: Any,
    email_on: bool,
    console_url: str | None,
) -> Submitted:
    claim = None
    if token is not None:
        try:
            claim = signer.read_visitor_token(token, site_id=site.id)
        except InvalidToken:
            claim = None  # an old token must not lose the message: a new visitor sends it
    url = page_url[:2048] if isinstance(page_url, str) else None

    def job(tx: Tx) -> tuple[Submission, bool, int | None]:
        existing = store.find_by_client_id(tx.conn, site.id, checked.client_id)
        if existing is not None:
            return existing, False, None
        visitor = visitor_store.get_visitor(tx.conn, claim.visitor_id) if claim else None
        if visitor is None or visitor.site_id != site.id or visitor.token_generation != claim.generation:  # type: ignore[union-attr]
            visitor = visitor_store.insert_visitor(
                tx.conn, id=uuid.uuid4().hex, site_id=site.id, ip=ip, user_agent=(user_agent or "")[:512] or None,
                last_page_url=url, language=lang,
            )
        known = {k: v for k, v in (("name", checked.name), ("email", checked.email), ("phone", checked.phone)) if v}
        if known:
            visitor_store.update_visitor(tx.conn, visitor.id, **known)
        conversation = conversation_store.latest_conversation(tx.conn, visitor.id)
        created = conversation is None
        if created:
            conversation_store.insert_conversation(tx.conn, id=uuid.uuid4().hex, site_id=site.id, visitor_id=visitor.id)
            conversation = conversation_store.latest_conversation(tx.conn, visitor.id)
        elif conversation.status == conversations.CLOSED:  # the visitor writes again: one thread, reopened
            conversation = conversations.reopen_for_visitor(tx, conversation)
        now = utcnow()
        submission = store.insert_submission(
            tx.conn, id=uuid.uuid4().hex, site_id=site.id, client_id=checked.client_id, visitor_id=visitor.id,
            conversation_id=conversation.id, name=checked.name, email=checked.email, phone=checked.phone,
            message=checked.message, language=lang, consent_text=consent, privacy_url=site.privacy_url,
            consent_at=now, send_copy=checked.send_copy, ip=ip, user_agent=(user_agent or "")[:512] or None,
            page_url=url, created_at=now,
        )
        chat.store_message(
            tx, conversation, checked.client_id, checked.message, author_kind="visitor", author_id=visitor.id,
            author_name=checked.name, new_conversation=created,
        )
        summary = conversation_store.get_summary(tx.conn, conversation.id)
        tx.append_event(
            events.CONTACT_SUBMITTED, {"submission": submission.public(), "conversation": summary},
            site_id=site.id, conversation_id=conversation.id,
        )
        join_lead(tx, submission)
        if email_on:
            email_flows.contact_submitted(tx, site, submission, console_url=console_url)
        return submission, True, visitor.token_generation

    submission, created, generation = await writer.run(job)
    if generation is None:  # a repeat: the token only goes back to the visitor who sent it
        same = claim is not None and claim.visitor_id == submission.visitor_id
        return Submitted(submission, token if same else None, created)
    return Submitted(submission, signer.visitor_token(submission.visitor_id, site.id, generation), created)


def join_lead(tx: Tx, submission: Submission) -> None:
    """The submission's visitor joins (or becomes) a lead with what the form gave."""
    leads.join(
        tx, submission.site_id, submission.visitor_id, name=submission.name, email=submission.email,
        phone=submission.phone,
    )
