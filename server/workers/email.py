"""The email worker: sends each queued email over SMTP and schedules retries.

An SMTP outage delays mail and loses none: a failed connection, a timeout or a 4xx
answer leaves the row pending until its next pause (FRONTDESK_EMAIL_RETRY_SECONDS);
only a permanent refusal of the recipient or the content (5xx) or a used-up schedule
marks it failed. The outcome is recorded with the lease's fencing token, so a node
whose lease was taken over cannot mark another node's send, and a retry sends the same
Message-ID.
"""

from __future__ import annotations

import logging

import aiosmtplib

from ..config import Settings
from ..metrics import Metrics
from ..services import emails
from ..services.emails import EmailRenderer
from ..store import emails as store
from ..store.db import Database, utcnow
from ..store.emails import EmailJob
from ..store.leases import Claim
from ..store.schema import emails as emails_table
from .leased import LeasedWorker

log = logging.getLogger(__name__)


class EmailSender:
    """One attempt of one email (the handler of the "emails" leased worker)."""

    def __init__(self, settings: Settings, renderer: EmailRenderer) -> None:
        self._settings = settings
        self._renderer = renderer

    async def __call__(self, claim: Claim, job: EmailJob | None) -> tuple[str, dict[str, object]]:
        schedule = self._settings.email_retry_schedule
        if job is None:
            result = emails.outcome(len(schedule), utcnow(), schedule, error="the email row is gone", permanent=True)
            return result.label, result.values
        error, permanent = await self._send(job)
        result = emails.outcome(claim.attempts, utcnow(), schedule, error=error, permanent=permanent)
        if error:
            log.info("email %d (%s): %s (%s)", job.id, job.template, error, result.label)
        return result.label, result.values

    async def _send(self, job: EmailJob) -> tuple[str | None, bool]:
        """(error or None, whether the error is permanent)."""
        settings = self._settings
        try:
            message = self._renderer.message(job, sender=settings.smtp_from)
        except Exception as exc:  # a template bug: retrying would fail the same way
            log.exception("email %d: rendering %s failed", job.id, job.template)
            return f"rendering failed: {type(exc).__name__}", True
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password or None,
                use_tls=settings.smtp_security == "tls",
                start_tls=True if settings.smtp_security == "starttls" else False,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return f"recipient refused: {'; '.join(str(r) for r in exc.recipients)}", all(c >= 500 for c in codes)
        except aiosmtplib.SMTPResponseException as exc:
            # A 5xx to the message itself is permanent; login and connection trouble
            # (a setting to fix, a server down) are retried.
            permanent = exc.code >= 500 and isinstance(exc, (aiosmtplib.SMTPDataError, aiosmtplib.SMTPSenderRefused))
            return f"SMTP {exc.code}: {exc.message}", permanent
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}", False
        return None, False


def email_worker(
    db: Database, settings: Settings, metrics: Metrics, owner: str, renderer: EmailRenderer
) -> LeasedWorker:
    sender = EmailSender(settings, renderer)
    return LeasedWorker(
        "emails", db, emails_table, store.email_jobs, sender, owner=owner, lease_seconds=settings.worker_lease_seconds,
        poll_seconds=settings.worker_poll_seconds, concurrency=settings.email_concurrency, metrics=metrics,
    )
