"""uvicorn's websockets-sansio protocol, lighter per open socket (issue 20: idle sockets per GiB).

An idle greeted socket is mostly the server's own per-connection state. Three parts of
uvicorn's protocol cost more than they need to and are replaced here, same behaviour:

* its receive queue, an ``asyncio.Queue`` (four deques, an Event: ~3 KiB a socket), by
  ``Inbox``: a list and a future while someone waits. Reading is paused while a frame
  waits in it, so it holds one or two messages at most;
* its ``writable`` flag, an ``asyncio.Event`` (a deque: ~0.8 KiB), by ``Flag``: a bool
  and a list of waiters made only while a slow client holds up a write;
* the upgrade request and the response it keeps after the handshake (their header
  objects: ~2.5 KiB), dropped once the accept is sent: uvicorn reads neither again. The
  request's headers are emptied too: websockets' frame parser (a generator) keeps the
  request object as a local for the connection's life. The app reads the headers from
  the ASGI scope, which has its own copy.

It also offers the app a direct write (``RAW_WRITES`` in the scope's extensions): a frame
built once (``realtime/cork.py``) goes straight to the transport, skipping the ASGI send
chain (Starlette's checks, uvicorn's branches, framing again per socket) that was the
largest part of the event loop's time at saturation. Only while the socket is open and
writable; otherwise the app sends the usual way.

Each replacement is taken only when uvicorn's attribute is the type it replaces, so a
uvicorn that changes these falls back to its own, unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.protocol import State

RAW_WRITES = "frontdesk.raw_writes"


class _Waiters:
    """Who waits, made only while someone does (no deque or Event per socket)."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)  # cancelled: not woken


class Inbox(_Waiters):
    """The part of ``asyncio.Queue`` uvicorn's protocol uses: put_nowait, get, empty."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> Any:
        while not self._items:
            await self._wait()
        return self._items.pop(0)


class Flag(_Waiters):
    """The part of ``asyncio.Event`` uvicorn's protocol uses: set, clear, is_set, wait."""

    __slots__ = ("_value",)

    def __init__(self, value: bool = False) -> None:
        super().__init__()
        self._value = value

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        self._wake()

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if not self._value:
            await self._wait()
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with the lighter parts above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if type(getattr(self, "queue", None)) is asyncio.Queue and self.queue.empty():
            self.queue = Inbox()  # type: ignore[assignment]
        writable = getattr(self, "writable", None)
        if type(writable) is asyncio.Event:
            self.writable = Flag(writable.is_set())  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        extensions = getattr(self, "scope", {}).get("extensions")
        if isinstance(extensions, dict) and not self.close_sent:
            extensions[RAW_WRITES] = self

    def can_write(self) -> bool:
        """Open, accepted, not closing, and the client keeps up (no paused transport)."""
        return (
            self.handshake_complete and not self.close_sent and not self.disconnected
            and self.initial_response is None and self.writable.is_set() and self.conn.state is State.OPEN
        )

    def write_frame(self, data: bytes) -> bool:
        """Write ``data`` (whole frames) now; False when it cannot (send it the ASGI way)."""
        if not self.can_write():
            return False
        self.transport.write(data)
        return True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message.get("type") == "websocket.accept" and self.handshake_complete:
            # Handshake done: uvicorn reads neither again (a rejection keeps them; it closes).
            request = self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            headers = getattr(request, "headers", None)
            if isinstance(headers, Headers):
                headers.clear()
