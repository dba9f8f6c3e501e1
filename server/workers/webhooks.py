"""The webhook worker: sends each queued delivery, signed, and schedules retries."""

from __future__ import annotations

import logging
import time

import httpx

from ..config import Settings
from ..metrics import Metrics
from ..services import webhooks
from ..store import webhooks as store
from ..store.db import Database, utcnow
from ..store.leases import Claim
from ..store.schema import webhook_deliveries
from .leased import LeasedWorker

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500


class WebhookSender:
    """One attempt of one delivery (the handler of the "webhooks" leased worker)."""

    def __init__(self, db: Database, settings: Settings, metrics: Metrics) -> None:
        self._db = db
        self._settings = settings
        self._metrics = metrics
        self._client: httpx.AsyncClient | None = None  # made at the first send: CLI commands never send

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects: a receiver must not bounce signed data somewhere else.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._settings.webhook_timeout_seconds), follow_redirects=False,
                trust_env=False, limits=httpx.Limits(max_connections=self._settings.webhook_concurrency),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, claim: Claim) -> tuple[str, dict[str, object]]:
        job = await self._db.read(lambda conn: store.delivery_job(conn, claim.id))
        schedule = self._settings.webhook_retry_schedule
        if job is None or not job.enabled:
            result = webhooks.outcome(len(schedule), utcnow(), schedule, status_code=None, error="endpoint disabled")
            return result.label, result.values
        status_code, error = await self._send(job)
        result = webhooks.outcome(claim.attempts, utcnow(), schedule, status_code=status_code, error=error)
        if result.label != "delivered":
            log.info(
                "webhook delivery %d (event %d) to endpoint %s: %s", claim.id, job.event.id, job.url.split("?")[0],
                error or f"HTTP {status_code}",
            )
        return result.label, result.values

    async def _send(self, job: store.DeliveryJob) -> tuple[int | None, str | None]:
        refused = await webhooks.destination_refused(
            job.url, allow_private=self._settings.webhook_allow_private_networks
        )
        if refused is not None:
            return None, refused
        request = webhooks.request(job, utcnow())
        started = time.monotonic()
        try:
            response = await self.client.post(job.url, content=request.body.encode(), headers=request.headers)
        except httpx.TimeoutException:
            return None, f"no answer within {self._settings.webhook_timeout_seconds} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        finally:
            self._metrics.webhook_seconds.observe(time.monotonic() - started)
        return response.status_code, None


def webhook_worker(db: Database, settings: Settings, metrics: Metrics, owner: str) -> tuple[LeasedWorker, WebhookSender]:
    sender = WebhookSender(db, settings, metrics)
    worker = LeasedWorker(
        "webhooks", db, webhook_deliveries, sender, owner=owner, lease_seconds=settings.worker_lease_seconds,
        poll_seconds=settings.worker_poll_seconds, concurrency=settings.webhook_concurrency, metrics=metrics,
    )
    return worker, sender
