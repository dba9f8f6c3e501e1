"""Email: queued in the transaction of the change that causes it, rendered when sent.

``queue_email(tx, to=..., template=..., lang=..., context=...)`` is the one way to send
mail: it writes a row of the ``emails`` job table inside the caller's write job, so the
mail exists exactly when the change does (workers/email.py sends it, with retries).
Each template is a pair ``templates/email/<name>.txt`` / ``.html`` (HTML autoescaped:
anything a visitor typed is text there) with its subject at ``email.<name>.subject`` in
the server catalogues, rendered in the recipient's language.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import partial
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..assets import asset_path
from ..catalogs import Catalogs
from ..locales import DEFAULT, LANGUAGES
from ..store import emails as store
from ..store import leases
from ..store.emails import EmailJob
from ..store.writer import Tx

# Every template there is (a test renders each in every language).
TEMPLATES = ("contact_submitted", "contact_copy", "operator_reply", "offline_message", "callback_due")
MAX_ERROR_CHARS = 500
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def queue_email(
    tx: Tx, *, to: str, template: str, lang: str | None, context: dict[str, Any], reply_to: str | None = None,
    site_id: int | None = None, conversation_id: str | None = None,
) -> int:
    """Queue one email in ``tx`` (a writer job's transaction); returns its id.

    ``context``: JSON-able values the template shows (escaped in HTML); ``lang``: the
    recipient's language (unknown ones fall back to the default)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown email template {template!r}")
    email_id = store.insert_email(
        tx.conn, message_id=uuid.uuid4().hex, to_address=to, template=template,
        lang=lang if lang in LANGUAGES else DEFAULT, context=context, reply_to=reply_to, site_id=site_id,
        conversation_id=conversation_id,
    )
    tx.work.add("emails")
    return email_id


def one_line(value: str, max_chars: int = 200) -> str:
    """A header value: no line breaks or control characters (no header injection), bounded."""
    return _HEADER_UNSAFE.sub(" ", value).strip()[:max_chars]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class EmailRenderer:
    def __init__(self, catalogs: Catalogs) -> None:
        self._catalogs = catalogs
        self._env = Environment(
            loader=FileSystemLoader(str(asset_path("templates", "email"))),
            # HTML escaped; plain text is shown as text by every mail client already.
            autoescape=select_autoescape(enabled_extensions=("html",), default=False, default_for_string=False),
            undefined=StrictUndefined,  # a missing value is a bug to see in tests, not an empty hole in mail
            keep_trailing_newline=True,
        )

    def render(self, template: str, lang: str, context: dict[str, Any]) -> Rendered:
        t = partial(self._catalogs.translate, lang)
        full = {"t": t, "lang": lang, **context}
        params = {k: v for k, v in context.items() if isinstance(v, (str, int))}
        return Rendered(
            subject=one_line(t(f"email.{template}.subject", **params)),
            text=self._env.get_template(f"{template}.txt").render(full),
            html=self._env.get_template(f"{template}.html").render(full),
        )

    def message(self, job: EmailJob, *, sender: str) -> Message:
        """The MIME message of a job: the same Message-ID and Date on every attempt, so a
        receiving server or client that sees it twice (a send whose answer was lost) can
        tell it is one message.

        Built with the classic (compat32) API on purpose: the newer EmailMessage folds a
        long non-ASCII Subject into encoded words and drops the space between two of them
        ("не было в сети" arrived as "не былов сети"); ``Header`` keeps spaces inside."""
        rendered = self.render(job.template, job.lang, job.context)
        name, address = parseaddr(sender)
        domain = address.rpartition("@")[2] or "frontdesk.invalid"
        msg = MIMEMultipart("alternative")
        msg["From"] = formataddr((name, address), charset="utf-8")
        msg["To"] = job.to_address
        msg["Subject"] = Header(rendered.subject, "utf-8")
        msg["Date"] = format_datetime(job.created_at)
        msg["Message-ID"] = f"<{job.message_id}@{domain}>"
        msg["Content-Language"] = job.lang
        if job.reply_to:
            msg["Reply-To"] = job.reply_to
        if job.template != "operator_reply":  # an operator's reply is written by a person
            msg["Auto-Submitted"] = "auto-generated"
        msg.attach(MIMEText(rendered.text, "plain", "utf-8"))
        msg.attach(MIMEText(rendered.html, "html", "utf-8"))
        return msg


@dataclass(frozen=True)
class Outcome:
    label: str  # sent | retrying | failed (the metric's label)
    values: dict[str, Any]


def outcome(attempts_before: int, now: datetime, schedule: tuple[int, ...], *, error: str | None, permanent: bool = False) -> Outcome:
    """What one attempt leaves in the row: sent, due again after the next pause, or failed
    (a permanent refusal, or the schedule used up)."""
    common: dict[str, Any] = {"last_attempt_at": now, "last_error": error[:MAX_ERROR_CHARS] if error else None}
    if error is None:
        return Outcome("sent", {**common, "status": leases.DONE, "sent_at": now})
    if not permanent and attempts_before < len(schedule):
        return Outcome("retrying", {**common, "next_attempt_at": now + timedelta(seconds=schedule[attempts_before])})
    return Outcome("failed", {**common, "status": leases.FAILED})
