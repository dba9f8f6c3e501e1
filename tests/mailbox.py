"""A real SMTP server for tests (aiosmtpd in a thread): keeps every message it accepts,
can be stopped and started again on the same port (an outage), and waits for mail."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Callable

from aiosmtpd.controller import Controller

from tests.servers import free_port


@dataclass
class Mailbox:
    port: int = field(default_factory=free_port)  # aiosmtpd cannot take port 0: a free one, found first
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (mail from, rcpt tos)
    lock: threading.RLock = field(default_factory=threading.RLock)
    arrived: threading.Condition = field(init=False)
    controller: Controller | None = None

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived.notify_all()
        return "250 OK"

    def start(self) -> "Mailbox":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def env(self, **extra: str) -> dict[str, str]:
        """A Frontdesk server's settings for sending here, quickly retried."""
        return {
            "FRONTDESK_SMTP_HOST": "127.0.0.1",
            "FRONTDESK_SMTP_PORT": str(self.port),
            "FRONTDESK_SMTP_SECURITY": "none",
            "FRONTDESK_SMTP_FROM": "Aurora Desk <desk@aurora.test>",
            "FRONTDESK_SMTP_TIMEOUT_SECONDS": "2",
            "FRONTDESK_EMAIL_RETRY_SECONDS": ",".join(["1"] * 20),
            "FRONTDESK_WORKER_LEASE_SECONDS": "4",
            "FRONTDESK_WEBHOOK_TIMEOUT_SECONDS": "2",
            "FRONTDESK_WORKER_POLL_SECONDS": "0.2",
            **extra,
        }

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m, (_, rcpts) in zip(self.messages, self.envelopes) if address in rcpts]

    def wait_for(self, done: Callable[["Mailbox"], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not done(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {[m['Subject'] for m in self.messages]}")
                self.arrived.wait(left)


def parts(message: EmailMessage) -> tuple[str, str]:
    """(the text/plain part, the text/html part) of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, message
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]
