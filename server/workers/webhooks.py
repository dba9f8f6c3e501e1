"""The webhook worker: sends each queued delivery, signed, and schedules retries."""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING

from ..config import Settings
from ..metrics import Metrics
from ..services import outbound, webhooks
from ..store import webhooks as store
from ..store.db import Database, utcnow
from ..store.leases import Claim
from ..store.schema import webhook_deliveries
from .leased import LeasedWorker

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
MAX_ANSWER_BYTES = 64 * 1024  # read (and drop) at most this much of a receiver's answer


class RefusedAddress(OSError):
    """Raised instead of connecting to a private or local address."""


def guarded_socket(allow_private: bool) -> aiohttp.SocketFactoryType | None:
    """A socket factory for aiohttp that refuses private and local addresses (unless
    allowed). It sees the address each socket is about to connect to, after any DNS and
    after the URL library's normalisation, for names and IP literals alike (aiohttp does
    not resolve an IP host, so a check in the resolver missed every address literal,
    including look-alike spellings such as `１２７.０.０.１`)."""
    if allow_private:
        return None

    def make(addr_info: aiohttp.AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        why = outbound.address_refused(str(sockaddr[0]), allow_private=False)
        if why is not None:
            raise RefusedAddress(why)
        return socket.socket(family, type_, proto)

    return make


class WebhookSender:
    """One attempt of one delivery (the handler of the "webhooks" leased worker).

    aiohttp, not httpx: measured on this kind of machine, httpx's pool fell to ~220
    requests/s at 16 concurrent requests where aiohttp kept ~5,600 (docs/benchmarks.md).
    """

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._session: aiohttp.ClientSession | None = None  # made at the first send: CLI commands never send

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Imported at the first send, not with this module: aiohttp's import (it makes
            # its TLS contexts then) cost every process, commands included, ~0.25 s.
            import aiohttp

            allow_private = self._settings.webhook_allow_private_networks
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._settings.webhook_concurrency, socket_factory=guarded_socket(allow_private)
                ),
                timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds),
                trust_env=False,  # no proxy from the environment: receivers are reached directly
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, claim: Claim, job: store.DeliveryJob | None) -> tuple[str, dict[str, object]]:
        schedule = self._settings.webhook_retry_schedule
        if job is None or not job.enabled:
            result = webhooks.outcome(len(schedule), utcnow(), schedule, status_code=None, error="endpoint disabled")
            return result.label, result.values
        status_code, error = await self._send(job)
        result = webhooks.outcome(claim.attempts, utcnow(), schedule, status_code=status_code, error=error)
        if result.label != "delivered":
            log.info(
                "webhook delivery %d (event %d) to endpoint %s: %s", claim.id, job.event.id, webhooks.loggable_url(job.url),
                error or f"HTTP {status_code}",
            )
        return result.label, result.values

    async def _send(self, job: store.DeliveryJob) -> tuple[int | None, str | None]:
        import aiohttp  # loaded by ``session`` (its errors are named below)

        request = webhooks.request(job, utcnow())
        started = time.monotonic()
        try:
            # No redirects: a receiver must not bounce signed data somewhere else.
            async with self.session.post(
                job.url, data=request.body.encode(), headers=request.headers, allow_redirects=False
            ) as response:
                await response.content.read(MAX_ANSWER_BYTES)
                return response.status, None
        except TimeoutError:
            return None, f"no answer within {self._settings.webhook_timeout_seconds} s"
        except aiohttp.ClientConnectorError as exc:
            return None, str(exc.os_error)[:MAX_ERROR_CHARS]
        except (aiohttp.ClientError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        finally:
            self._metrics.webhook_seconds.observe(time.monotonic() - started)


def webhook_worker(db: Database, settings: Settings, metrics: Metrics, owner: str) -> tuple[LeasedWorker, WebhookSender]:
    sender = WebhookSender(settings, metrics)
    worker = LeasedWorker(
        "webhooks", db, webhook_deliveries, store.delivery_jobs, sender, owner=owner, lease_seconds=settings.worker_lease_seconds,
        poll_seconds=settings.worker_poll_seconds, concurrency=settings.webhook_concurrency, metrics=metrics,
    )
    return worker, sender
