"""Everything a running app holds, built once by create_app's lifespan (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from .catalogs import Catalogs
from .config import Settings
from .realtime.hub import Hub
from .realtime.memory import MemoryHub
from .realtime.presence import MemoryPresence
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
    presence: MemoryPresence
    signer: Signer
    catalogs: Catalogs
    limiter: MovingWindowRateLimiter

    @classmethod
    async def open(cls, settings: Settings) -> "AppState":
        db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
        current, head = await migrate.current_revision(db), migrate.head_revision()
        if current != head:
            await db.close()
            raise SchemaOutdated(
                f"the database schema is at {current or 'nothing'}, the code needs {head}: run `frontdesk migrate`"
            )
        hub = MemoryHub()

        async def on_commit(events: list) -> None:  # type: ignore[type-arg]
            await publish_committed(hub, events)

        writer = GroupWriter(db, max_batch=settings.commit_batch_max, on_commit=on_commit)
        writer.start()
        return cls(
            settings=settings,
            db=db,
            writer=writer,
            hub=hub,
            presence=MemoryPresence(hub),
            signer=Signer(settings.resolved_secret_key(), visitor_token_days=settings.visitor_token_days),
            catalogs=Catalogs(),
            limiter=MovingWindowRateLimiter(MemoryStorage()),
        )

    async def close(self) -> None:
        await self.writer.stop()
        await self.hub.close()
        await self.db.close()
