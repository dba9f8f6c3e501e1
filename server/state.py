"""Everything a running app holds, built once by create_app's lifespan (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

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
from .store import migrate
from .store.db import Database
from .store.writer import GroupWriter
from .workers.relay import publish_committed


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
    limiter: MovingWindowRateLimiter
    metrics: Metrics

    @classmethod
    async def open(cls, settings: Settings) -> "AppState":
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        current, head = await migrate.current_revision(db), migrate.head_revision()
        if current != head:
            await db.close()
            raise SchemaOutdated(
                f"the database schema is at {current or 'nothing'}, the code needs {head}: run `frontdesk migrate`"
            )
        hub: Hub
        presence: MemoryPresence | RedisPresence
        if settings.redis_url:
            redis_hub = RedisHub(settings.redis_url, prefix=settings.redis_prefix)
            await redis_hub.start()
            hub = redis_hub
            presence = RedisPresence(
                redis_hub.redis, redis_hub, redis_hub.local, node_id=uuid.uuid4().hex, prefix=redis_hub.prefix
            )
            limits_storage = storage_from_string(
                "async+" + settings.redis_url, implementation="redispy", key_prefix=settings.redis_prefix + "limits"
            )
        else:
            hub = MemoryHub()
            presence = MemoryPresence(hub)
            limits_storage = MemoryStorage()
        await presence.start()

        async def on_commit(events: list) -> None:  # type: ignore[type-arg]
            await publish_committed(hub, events)

        metrics = Metrics()
        writer = GroupWriter(
            db, max_batch=settings.commit_batch_max, on_commit=on_commit, metrics=metrics,
            shared=bool(settings.redis_url),
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
            metrics=metrics,
        )

    async def close(self) -> None:
        await self.writer.stop()
        await self.presence.close()
        await self.hub.close()
        await self.db.close()
