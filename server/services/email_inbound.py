"""Visitors' answers by email, back into their conversations.

An operator's reply by email carries Reply-To ``reply+<conversation>.<hmac>@<reply domain>``
(services/email_flows.Mail). Mail to such an address — through the built-in SMTP receiver
(web/inbound_smtp.py) or a provider's inbound webhook forwarding to it (docs/email.md) —
is stored as the visitor's message in that conversation. The signature is the
capability: an address that is not signed by this server is refused before any data.
A message is stored once whatever the number of deliveries (its Message-ID is the
message's client id).
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage

from ..store import conversations as conversation_store
from ..store.writer import GroupWriter, Tx
from . import chat, conversations, fields

MAX_CHARS = 5000
# Where the quoted original starts in common mail clients' replies (en, ru, uk, kk).
_QUOTE_HEADER = re.compile(
    r"^(On .+ wrote:|.+ (пишет|написал\(а\)|написав\(ла\)|пише|жазды):|-----\s*Original Message\s*-----|"
    r"-----\s*Исходное сообщение\s*-----|From: .+)$",
    re.IGNORECASE,
)


def reply_text(message: EmailMessage) -> str:
    """What the visitor wrote: the plain-text part without the quoted original and signature."""
    part = message.get_body(("plain",))
    if part is None:
        return ""
    try:
        text = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError):
        return ""
    lines: list[str] = []
    for line in str(text).replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_HEADER.match(stripped) or stripped == "--":
            if lines or not stripped.startswith(">"):
                break
            continue
        lines.append(line)
    return "\n".join(lines).strip()[:MAX_CHARS]


async def receive_reply(writer: GroupWriter, conversation_id: str, text: str, message_id: str | None) -> bool:
    """Store ``text`` as the visitor's message in the conversation; False if there is none."""
    body = fields.text(text, "body", max_chars=MAX_CHARS, required=False)
    if body is None:
        return False
    client_id = "mail-" + hashlib.sha256((message_id or body).encode()).hexdigest()[:40]

    def job(tx: Tx) -> bool:
        conversation = conversation_store.get_conversation_row(tx.conn, conversation_id)
        if conversation is None:
            return False
        if conversation.status == conversations.CLOSED:  # the visitor answered: it reopens, as a chat message does
            conversation = conversations.reopen_for_visitor(tx, conversation)
        chat.store_message(
            tx, conversation, client_id, body, author_kind="visitor", author_id=conversation.visitor_id, author_name=None
        )
        return True

    return await writer.run(job)
