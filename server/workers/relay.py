"""Committed events → this node's sockets: the only place stored events go live.

Operators get every event (with its event_id, to resume from); a visitor's socket gets
only the messages of their own conversation, without the operator-side summary, and a
bare ``site.updated`` (on its site's channel) when an admin changed its site's settings.

One process (the in-process hub): the writer hands each committed batch to ``fan_out``;
a crash takes every socket with it, and clients resume from the table.

Several processes (a Redis hub): each node's ``EventRelay`` delivers every committed
event to its own sockets **in event-id order, each once, whoever committed it and
whether or not that node lived to publish it**. A node's own batches are delivered at
once and sent to the others as one Redis message per batch (per several, when they were
committed while a publication was on its way); an event id that arrives
ahead of a missing one is held. Nodes commit in parallel, so a missing id is usually
another node's batch whose publication is on its way; if the relay makes no progress
for ``gap_grace`` it reads the events table after the last id it delivered (and it
reads it every ``poll_seconds`` anyway, for a node that died after its last commit with
nothing committed behind it). A missing id is skipped only once it is final: rolled
back, as PostgreSQL's lock table shows (store/event_gaps.py). The table is the truth;
Redis only makes delivery fast. (Before: a node SIGKILLed between commit and publish
left live clients on every other node without those events for good.)

``position`` is this node's horizon: every event id up to it is delivered or final, so a
console replays stored events only up to it and takes the rest live (``replay_limit``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson

from ..json_text import dumps
from ..realtime.hub import OPERATORS, Frame, Hub, conversation_channel, site_channel
from ..realtime.memory import MemoryHub
from ..realtime.redis import RedisHub
from ..services import events as catalogue
from ..store.db import Database
from ..store.event_gaps import Fence, read_after, settled_position
from ..store.outbox import StoredEvent

log = logging.getLogger(__name__)

EVENTS = "events"  # the Redis channel of committed batches
PAGE = 1000


def visitor_frame(event: StoredEvent) -> dict[str, object] | None:
    """The visitor's view of an event: their messages and the operator's read receipt.
    Nothing else (notes, assignment, closing) ever goes to a visitor's channel."""
    if event.type == catalogue.MESSAGE_CREATED:
        return Frame(type=event.type, conversation_id=event.conversation_id, message=event.payload["message"])
    if event.type == catalogue.CONVERSATION_READ:
        return Frame(type=event.type, conversation_id=event.conversation_id, read_seq=event.payload["read_seq"])
    return None


def site_frame(event: StoredEvent) -> Frame:
    """``site.updated`` as every open widget of the site gets it: bare (the panel reads its
    config again; the config call says only what a widget may know)."""
    return Frame(type=event.type)


def fan_out(hub: MemoryHub, events: list[StoredEvent]) -> None:
    """Hand committed events to this process's subscribers (synchronously, in order), each
    socket's frames of the batch written at once (realtime/cork.py)."""
    with hub.cork:
        for event in events:
            hub.deliver(OPERATORS, Frame(event.frame()))
            frame = visitor_frame(event)
            if frame is not None and event.conversation_id:
                hub.deliver(conversation_channel(event.conversation_id), frame)
            if event.type == catalogue.SITE_UPDATED and event.site_id is not None:
                hub.deliver(site_channel(event.site_id), site_frame(event))


async def publish_committed(hub: Hub, events: list[StoredEvent]) -> None:
    """One process: the writer's after-commit step."""
    if isinstance(hub, MemoryHub):
        fan_out(hub, events)
        return
    messages: list[tuple[str, dict[str, Any]]] = []
    for event in events:
        messages.append((OPERATORS, event.frame()))
        frame = visitor_frame(event)
        if frame is not None and event.conversation_id:
            messages.append((conversation_channel(event.conversation_id), frame))
        if event.type == catalogue.SITE_UPDATED and event.site_id is not None:
            messages.append((site_channel(event.site_id), site_frame(event)))
    await hub.publish_many(messages)


def _wire(event: StoredEvent) -> list[Any]:
    return [event.id, event.type, event.site_id, event.conversation_id, event.payload]


class EventRelay:
    """Delivers committed events to this node's sockets in id order, each once (scale-out).

    Ids missing below a delivered one are resolved by reading the table: on PostgreSQL
    an id is skipped once every transaction that could still commit it has ended (a
    ``Fence``); on a shared SQLite file commits take turns under a file lock, so an id
    the table does not have below one it has was rolled back.
    """

    def __init__(self, db: Database, hub: RedisHub, *, poll_seconds: float = 1.0, gap_grace: float = 0.05) -> None:
        self._db = db
        self._hub = hub
        self._poll = poll_seconds
        self._grace = gap_grace  # a publication overtaken by another node's may be on its way
        self.position = 0  # every event id up to this one has been delivered (or never existed)
        self._held: dict[int, StoredEvent] = {}
        self._fence: Fence | None = None  # when the ids missing below a seen one are final
        self._gap = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.recovered = 0  # events delivered from the table before (or without) their publication
        # Published batches start with this relay's tag: Redis hands a node its own batches
        # back, and those (delivered when committed) are dropped without being decoded.
        self._tag = uuid.uuid4().hex[:16].encode() + b" "
        self._unpublished: list[StoredEvent] = []  # committed here, not yet sent to the others
        self._publisher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.position = await settled_position(self._db)
        await self._hub.listen(EVENTS, self._heard)
        self._task = asyncio.create_task(self._run(), name="frontdesk-event-relay")

    async def stop(self) -> None:
        if self._publisher is not None:  # what this node committed still goes to the others
            await asyncio.gather(asyncio.wait_for(self._publisher, 5), return_exceptions=True)
        if self._task is not None:
            # Python 3.11's wait_for can swallow a cancel that lands as the gap is set: the
            # flag ends the loop at its next turn anyway (seen as a hang at shutdown).
            self._stopping = True
            self._gap.set()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def committed(self, events: list[StoredEvent]) -> None:
        """The writer's after-commit step: this node's sockets now, the others through Redis.

        On PostgreSQL it returns without waiting for Redis (the batch's acks go out after
        the local fan-out, not after a round trip): another node gets the events from the
        publication or, if it never comes, from the table like any gap. One publisher task
        sends what was committed meanwhile as one message, in commit order. On a shared
        SQLite file the publication stays within the commit's turn."""
        self.offer(events)
        self._unpublished.extend(events)
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.ensure_future(self._publish())
        if self._db.dialect != "postgresql":
            await asyncio.shield(self._publisher)

    async def _publish(self) -> None:
        while self._unpublished:
            events, self._unpublished = self._unpublished, []
            try:
                await self._hub.publish_raw(EVENTS, self._tag + dumps({"events": [_wire(e) for e in events]}).encode())
            except Exception:  # noqa: BLE001 - the other nodes read them from the table
                log.warning("could not publish %d committed events", len(events), exc_info=True)

    def _heard(self, data: bytes) -> None:
        if data.startswith(self._tag):
            return  # this node's own batch: delivered when it committed
        _, _, body = data.partition(b" ")
        self.offer([StoredEvent(*item) for item in orjson.loads(body)["events"]])

    def offer(self, events: list[StoredEvent]) -> None:
        for event in events:
            if event.id > self.position:
                self._held[event.id] = event
        self._drain()
        if self._held:
            self._gap.set()

    def _drain(self) -> None:
        ready = []
        while self.position + 1 in self._held:
            self.position += 1
            ready.append(self._held.pop(self.position))
        if ready:
            fan_out(self._hub.local, ready)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._gap.wait(), self._poll)
            except asyncio.TimeoutError:
                pass  # the poll: a node may have died after its last commit
            else:
                if not await self._stuck():
                    continue
            self._gap.clear()
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("could not read committed events to deliver; trying again", exc_info=True)
            if self._held:  # still waiting for a transaction that is running: look again
                self._gap.set()

    async def _stuck(self) -> bool:
        """True when held events wait behind a gap that publications did not fill for
        ``gap_grace`` (two nodes' batches overtake each other all the time: only a gap
        that stops delivery is worth a read of the table)."""
        while self._held:
            at = self.position
            await asyncio.sleep(self._grace)
            if self._held and self.position == at:
                return True
        self._gap.clear()
        return False

    async def catch_up(self) -> None:
        """Deliver what the table has after ``position``; skip ids proven final."""
        dialect = self._db.dialect
        while True:
            after = self.position
            page = await self._db.read(lambda conn: read_after(conn, dialect, after, limit=PAGE))
            found = page.events
            fresh = [e for e in found if e.id > self.position and e.id not in self._held]
            self.recovered += len(fresh)
            self.offer(found)
            full = len(found) == PAGE
            top = found[-1].id if found else after
            final = top if page.before is None else self._final(page.before, top, full)
            while self.position < final:  # below a final id: held, or never committed
                if self.position + 1 in self._held:
                    self._drain()
                else:
                    self.position += 1
            self._drain()
            if page.after is not None and self._fence is None and (self._held or top > self.position):
                self._fence = Fence(top, page.after)  # top was committed when these ran
            if fresh:
                log.debug("delivered %d committed events from the table", len(fresh))
            if not full:
                return

    def _final(self, running: frozenset[str], top: int, full: bool) -> int:
        """Up to which id every missing one is final, after a read (``running`` just before
        it) that shows every committed id from ``position`` to ``top`` (to the end unless
        ``full``)."""
        fence = self._fence
        if fence is None or fence.top <= self.position:
            self._fence = None
            return self.position
        if not fence.passed(running):  # a transaction that may hold a missing id still runs
            return self.position
        final = min(fence.top, top) if full else fence.top
        if final >= fence.top:
            self._fence = None
        return final

    def replay_limit(self) -> int:
        """The highest event id a console may replay from the table: above it an id may
        still appear below one already committed (it comes live, in order)."""
        return self.position
