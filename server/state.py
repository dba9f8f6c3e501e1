"""Everything a running app holds, built once by create_app's lifespan (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

import os
import socket
import uuid

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from .catalogs import Catalogs
from .config import Settings
from .metrics import Metrics
from .realtime.hub import Hub
from .realtime.memory import MemoryHub
from .realtime.presence import MemoryPresence, RedisPresence
from .realtime.redis import RedisHub
from .security import Signer
from .services.faq import Faq
from .store import migrate
from .store.db import Database
from .store.writer import GroupWriter
from .throttle import MemoryThrottle, RedisThrottle, SocketCounts, Throttle
from .workers.leased import LeasedWorker
from .workers.relay import publish_committed
from .workers.webhooks import WebhookSender, webhook_worker


class SchemaOutdated(RuntimeError):
    pass


@dataclass
class AppState:
    settings: Settings
    db: Database
    writer: GroupWriter
    hub: Hub
    presence: MemoryPresence | RedisPresence
    signer: Signer
    catalogs: Catalogs
    limiter: MovingWindowRateLimiter  # console logins
    throttle: Throttle  # visitors' frames and sessions: cheap, shared through Redis when scaled out
    socket_counts: SocketCounts
    metrics: Metrics
    node_id: str
    webhooks: LeasedWorker
    webhook_sender: WebhookSender
    faq: Faq  # the FAQ's search analyzers, loaded on first use

    @classmethod
    async def open(cls, settings: Settings) -> "AppState":
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        current, head = await migrate.current_revision(db), migrate.head_revision()
        if current != head:
            await db.close()
            raise SchemaOutdated(
                f"the database schema is at {current or 'nothing'}, the code needs {head}: run `frontdesk migrate`"
            )
        # Names this process in leases and presence; readable, so a stuck lease can be traced.
        node_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        hub: Hub
        throttle: Throttle
        presence: MemoryPresence | RedisPresence
        if settings.redis_url:
            redis_hub = RedisHub(settings.redis_url, prefix=settings.redis_prefix)
            await redis_hub.start()
            hub = redis_hub
            presence = RedisPresence(
                redis_hub.redis, redis_hub, redis_hub.local, node_id=node_id, prefix=redis_hub.prefix
            )
            throttle = RedisThrottle(redis_hub.redis, settings.redis_prefix)
            limits_storage = storage_from_string(
                "async+" + settings.redis_url, implementation="redispy", key_prefix=settings.redis_prefix + "limits"
            )
        else:
            hub = MemoryHub()
            presence = MemoryPresence(hub)
            limits_storage = MemoryStorage()
            throttle = MemoryThrottle()
        await presence.start()

        async def on_commit(events: list) -> None:  # type: ignore[type-arg]
            await publish_committed(hub, events)

        metrics = Metrics()
        webhooks, webhook_sender = webhook_worker(db, settings, metrics, node_id)
        writer = GroupWriter(
            db, max_batch=settings.commit_batch_max, on_commit=on_commit, metrics=metrics,
            shared=bool(settings.redis_url), on_work=webhooks.wake,
        )
        writer.start()
        return cls(
            settings=settings,
            db=db,
            writer=writer,
            hub=hub,
            presence=presence,
            signer=Signer(settings.resolved_secret_key(), visitor_token_days=settings.visitor_token_days),
            catalogs=Catalogs(),
            limiter=MovingWindowRateLimiter(limits_storage),  # type: ignore[arg-type]
            throttle=throttle,
            socket_counts=SocketCounts(),
            metrics=metrics,
            node_id=node_id,
            webhooks=webhooks,
            webhook_sender=webhook_sender,
            faq=Faq(db, writer),
        )

    def start_workers(self) -> None:
        """Background delivery (the server runs them; one-off CLI commands do not)."""
        self.webhooks.start()

    async def close(self) -> None:
        self.signer.close()
        await self.webhooks.stop()
        await self.webhook_sender.close()
        await self.writer.stop()
        await self.presence.close()
        await self.hub.close()
        await self.db.close()
