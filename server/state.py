"""Everything a running app holds, built once by create_app's lifespan (no module globals)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import os
import socket
import uuid

from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from .catalogs import Catalogs
from .config import Settings
from .metrics import Metrics
from .realtime.cork import Cork
from .realtime.hub import Hub
from .realtime.memory import MemoryHub
from .realtime.presence import MemoryPresence, RedisPresence
from .realtime.redis import RedisHub
from .security import Signer
from .services.faq import Faq
from .services.geo import Geolocator
from .store import migrate
from .store.db import Database
from .store.sites import Site
from .store.writer import GroupWriter
from .sharing import InUse
from .throttle import MemoryThrottle, RedisThrottle, SocketCounts, Throttle
from .services.email_flows import Mail
from .services.emails import EmailRenderer
from .workers.email import email_worker
from .workers.leased import LeasedWorker
from .workers.relay import EventRelay, publish_committed
from .workers.reminders import reminder_worker
from .workers.webhooks import WebhookSender, webhook_worker


class SchemaOutdated(RuntimeError):
    pass


def open_database(settings: Settings) -> Database:
    """The database as the settings describe it (its URL and SQLite's pragmas)."""
    return Database(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_wal_pages=settings.sqlite_wal_pages,
    )


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
    reminders: LeasedWorker  # callback reminders (workers/reminders.py)
    faq: Faq  # the FAQ's search analyzers, loaded on first use
    emails: LeasedWorker | None  # None: no SMTP server set (FRONTDESK_SMTP_HOST), mail is not queued
    mail: Mail | None  # what the email flows need; None without an SMTP server
    email_renderer: EmailRenderer
    geo: Geolocator  # leads' country (and city with FRONTDESK_GEOIP_DATABASE)
    inbound: asyncio.AbstractServer | None = None  # the SMTP receiver of email answers, when configured
    relay: EventRelay | None = None  # scale-out: committed events to this node's sockets
    cork: Cork = field(default_factory=Cork)  # the local hub's: gathers a batch's socket writes
    # Visitor sockets of one site share one Site object while it is unchanged (issue 20).
    sites_in_use: InUse[Site] = field(default_factory=InUse)

    @classmethod
    async def open(cls, settings: Settings) -> "AppState":
        db = open_database(settings)
        current, head = await migrate.current_revision(db), migrate.head_revision()
        if current != head:
            await db.close()
            raise SchemaOutdated(
                f"the database schema is at {current or 'nothing'}, the code needs {head}: run `frontdesk migrate`"
            )
        # Names this process in leases and presence; readable, so a stuck lease can be traced.
        node_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        hub: Hub
        relay: EventRelay | None = None
        local_hub: MemoryHub  # this process's sockets subscribe here
        throttle: Throttle
        presence: MemoryPresence | RedisPresence
        if settings.redis_url:
            redis_hub = RedisHub(settings.redis_url, prefix=settings.redis_prefix)
            await redis_hub.start()
            hub = redis_hub
            local_hub = redis_hub.local
            relay = EventRelay(db, redis_hub)
            await relay.start()
            presence = RedisPresence(
                redis_hub.redis, redis_hub, redis_hub.local, node_id=node_id, prefix=redis_hub.prefix
            )
            throttle = RedisThrottle(redis_hub.redis, settings.redis_prefix)
            limits_storage = storage_from_string(
                "async+" + settings.redis_url, implementation="redispy", key_prefix=settings.redis_prefix + "limits"
            )
        else:
            hub = local_hub = MemoryHub()
            presence = MemoryPresence(local_hub)
            limits_storage = MemoryStorage()
            throttle = MemoryThrottle()
        await presence.start()

        async def on_commit(events: list) -> None:  # type: ignore[type-arg]
            if relay is not None:
                await relay.committed(events)
            else:
                await publish_committed(hub, events)

        metrics = Metrics()
        webhooks, webhook_sender = webhook_worker(db, settings, metrics, node_id)
        catalogs = Catalogs()
        email_renderer = EmailRenderer(catalogs)
        emails = email_worker(db, settings, metrics, node_id, email_renderer) if settings.email_enabled else None
        workers = {"webhooks": webhooks, **({"emails": emails} if emails else {})}

        def on_work(names: set[str]) -> None:
            for name in names:
                if name in workers:
                    workers[name].wake()

        writer = GroupWriter(
            db, max_batch=settings.commit_batch_max, on_commit=on_commit, metrics=metrics,
            shared=bool(settings.redis_url), on_work=on_work, cork=local_hub.cork,
            hold=settings.commit_hold_ms / 1000, on_loop_below=settings.commit_on_loop_ms / 1000,
        )
        writer.start()
        signer = Signer(settings.resolved_secret_key(), visitor_token_days=settings.visitor_token_days)
        console_url = settings.public_url.rstrip("/") + "/console/" if settings.public_url else None
        mail = Mail(signer, settings.reply_domain, console_url) if settings.email_enabled else None
        reminders = reminder_worker(db, writer, settings, metrics, node_id, mail)
        return cls(
            settings=settings,
            db=db,
            writer=writer,
            hub=hub,
            presence=presence,
            signer=signer,
            catalogs=catalogs,
            limiter=MovingWindowRateLimiter(limits_storage),  # type: ignore[arg-type]
            throttle=throttle,
            socket_counts=SocketCounts(),
            metrics=metrics,
            node_id=node_id,
            webhooks=webhooks,
            webhook_sender=webhook_sender,
            reminders=reminders,
            faq=Faq(db, writer),
            emails=emails,
            mail=mail,
            email_renderer=email_renderer,
            geo=Geolocator(settings.geoip_database),
            relay=relay,
            cork=local_hub.cork,
        )

    def relay_position(self) -> int | None:
        """With Redis: the event id up to which every event is delivered or final on this
        node (a console replays stored events up to it, the rest comes live in order;
        nodes commit in parallel, so a higher id stored now may still have a lower one
        appear below it). None in one process: the last stored event will do."""
        return self.relay.replay_limit() if self.relay is not None else None

    async def start_inbound(self) -> None:
        """The SMTP receiver for visitors' email answers, if a port and a reply domain are set."""
        from .web import inbound_smtp

        settings = self.settings
        if self.mail is None or not settings.inbound_smtp_port or not settings.reply_domain:
            return
        self.inbound = await inbound_smtp.start(
            self.writer, self.mail, settings.inbound_smtp_host, settings.inbound_smtp_port
        )

    def start_workers(self) -> None:
        """Background delivery (the server runs them; one-off CLI commands do not)."""
        self.webhooks.start()
        if self.emails is not None:
            self.emails.start()
        self.reminders.start()

    async def close(self) -> None:
        if self.inbound is not None:
            self.inbound.close()
            await self.inbound.wait_closed()
        self.signer.close()
        await self.webhooks.stop()
        if self.emails is not None:
            await self.emails.stop()
        await self.reminders.stop()
        await self.webhook_sender.close()
        await self.writer.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.presence.close()
        await self.hub.close()
        await self.db.close()
        self.geo.close()
