"""The hub contract: publish JSON-able dicts to channels; subscribe to some channels.

Two methods and a subscription, so the in-process hub and a Redis pub/sub hub are
interchangeable (the shape of httpx's transport base). Messages handed to subscribers
are shared: consumers must not mutate them.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .. import json_text


class Frame(dict):  # type: ignore[type-arg]
    """A message that many sockets send as it is: each view of it (what a console shows,
    what a visitor's socket sends) is encoded once, by the first socket that sends it,
    not once per socket (JSON encoding per receiving socket was 8-10 % of the GIL at
    saturation, issue 20)."""

    __slots__ = ("texts",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.texts: dict[str, str] = {}


def encode(frame: dict[str, Any]) -> str:
    return json_text.dumps(frame)


def encoded(frame: dict[str, Any], view: str, present: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> str:
    """``frame`` as ``view`` sends it (``present``: what that view changes), encoded once per Frame."""
    texts = frame.texts if isinstance(frame, Frame) else None
    if texts is not None:
        text = texts.get(view)
        if text is not None:
            return text
    text = encode(present(frame) if present is not None else frame)
    if texts is not None:
        texts[view] = text
    return text


class SubscriberTooSlow(Exception):
    """A subscriber fell too far behind; it should drop its client, which resumes by seq."""


class Subscription(Protocol):
    async def add(self, channel: str) -> None: ...

    async def get(self) -> dict[str, Any]: ...

    def listen(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Instead of ``get``: each message to ``callback`` as it is published (sockets)."""
        ...

    async def close(self) -> None: ...


class Hub(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish (channel, message) pairs in order, in one round trip where the hub can."""
        ...

    def subscription(self) -> Subscription: ...

    async def close(self) -> None: ...


# Channel names, in one place.
OPERATORS = "operators"


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def site_channel(site_id: int) -> str:
    return f"site:{site_id}"


def operator_channel(operator_id: int) -> str:
    """One operator's own channel: their console sockets on every node listen to it."""
    return f"operator:{operator_id}"


SESSION_ENDED = "session.ended"


async def announce_session_ended(hub: Hub, operator_id: int, session_id: int | None = None) -> None:
    """Tell the operator's open console sockets (every node) that a session ended, so they
    close now rather than at their next check; ``session_id`` None: all their sessions."""
    await hub.publish(operator_channel(operator_id), {"type": SESSION_ENDED, "session_id": session_id})
