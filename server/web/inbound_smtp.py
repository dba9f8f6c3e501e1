"""The built-in SMTP receiver (aiosmtpd on the app's own event loop): takes visitors'
answers to reply addresses back into their conversations (FRONTDESK_INBOUND_SMTP_PORT).

Put it behind your MX (or a provider's forwarding) for the reply domain; it accepts mail
only for signed reply addresses, refusing every other recipient at RCPT time, so it is no
open relay.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP

from ..services import email_inbound
from ..services.email_flows import Mail
from ..store.writer import GroupWriter

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1024 * 1024


class ReplyHandler:
    def __init__(self, writer: GroupWriter, mail: Mail) -> None:
        self._writer = writer
        self._mail = mail

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if self._mail.conversation_of(address) is None:
            return "550 5.1.1 No such reply address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if not isinstance(content, bytes) or len(content) > MAX_MESSAGE_BYTES:
            return "552 5.3.4 Message too big"
        message: EmailMessage = await asyncio.to_thread(
            email.message_from_bytes, content, policy=email.policy.default  # type: ignore[arg-type]
        )
        text = email_inbound.reply_text(message)
        if not text:
            return "250 OK (nothing to add)"
        for address in envelope.rcpt_tos:
            conversation_id = self._mail.conversation_of(address)
            if conversation_id is None:
                continue
            try:
                await email_inbound.receive_reply(self._writer, conversation_id, text, message.get("Message-ID"))
            except Exception:  # the sending server keeps the mail and tries again
                log.exception("storing an email reply failed")
                return "451 4.3.0 Try again later"
        return "250 OK"


async def start(writer: GroupWriter, mail: Mail, host: str, port: int) -> asyncio.AbstractServer:
    handler = ReplyHandler(writer, mail)
    loop = asyncio.get_running_loop()
    # reuse_port: every process of `serve --workers N` listens; any of them may take a message.
    return await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, hostname=mail.reply_domain or None),
        host=host, port=port, reuse_port=True,
    )
