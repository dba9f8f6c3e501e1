"""Publishes committed events on the hub: the only place stored events go live.

Operators get every event (with its event_id, to resume from); a visitor's socket gets
only the messages of their own conversation, without the operator-side summary, and a
bare ``site.updated`` when an admin changed its site's settings.
"""

from __future__ import annotations

from ..realtime.hub import OPERATORS, Hub, conversation_channel, site_channel
from ..services import events as catalogue
from ..store.outbox import StoredEvent


def visitor_frame(event: StoredEvent) -> dict[str, object] | None:
    """The visitor's view of an event: their messages and the operator's read receipt.
    Nothing else (notes, assignment, closing) ever goes to a visitor's channel."""
    if event.type == catalogue.MESSAGE_CREATED:
        return {"type": event.type, "conversation_id": event.conversation_id, "message": event.payload["message"]}
    if event.type == catalogue.CONVERSATION_READ:
        return {"type": event.type, "conversation_id": event.conversation_id, "read_seq": event.payload["read_seq"]}
    return None


async def publish_committed(hub: Hub, events: list[StoredEvent]) -> None:
    messages: list[tuple[str, dict[str, object]]] = []
    for event in events:
        messages.append((OPERATORS, event.frame()))
        frame = visitor_frame(event)
        if frame is not None and event.conversation_id:
            messages.append((conversation_channel(event.conversation_id), frame))
        if event.type == catalogue.SITE_UPDATED and event.site_id is not None:
            # Every open widget of the site reads its config again (nothing else: the
            # config call says only what a widget may know).
            messages.append((site_channel(event.site_id), {"type": event.type}))
    await hub.publish_many(messages)  # type: ignore[arg-type]
