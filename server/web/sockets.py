"""What both websockets share: JSON frames in, one sender task out, the hub pumped in.

One sender task per socket, so frames from the reader, from acks and from the hub never
interleave mid-send. A client that cannot keep up is dropped; it resumes by seq.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import BadFrame, FrontdeskError, TooLarge
from ..realtime.hub import SubscriberTooSlow, Subscription
from ..state import AppState

log = logging.getLogger(__name__)
T = TypeVar("T")

_OUT_LIMIT = 5000
HELLO_TIMEOUT = 15.0
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects and resumes


class Disconnected(Exception):
    pass


class FrameSocket:
    def __init__(self, websocket: WebSocket, state: AppState, lang: str, kind: str) -> None:
        self.kind = kind  # visitor | operator: the label of the open-sockets metric
        self.ws = websocket
        self.state = state
        self.lang = lang
        self._out: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(_OUT_LIMIT)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def receive_frame(self) -> dict[str, Any]:
        """The next frame as a dict; raises BadFrame for anything else, Disconnected at the end."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise Disconnected()
        raw = message.get("text")
        if raw is None:
            raise BadFrame()
        if len(raw) > self.state.settings.max_frame_bytes:
            raise TooLarge(field="frame")
        try:
            frame = json.loads(raw)
        except ValueError:
            raise BadFrame() from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise BadFrame()
        return frame

    async def receive_hello(
        self, check: Callable[[dict[str, Any]], Awaitable[T]], *, refused: FrontdeskError, close_code: int
    ) -> tuple[dict[str, Any], T] | None:
        """The first frame must be a ``hello`` that ``check`` accepts, within HELLO_TIMEOUT;
        otherwise the client is told why and the socket closed (returns None)."""
        try:
            hello = await asyncio.wait_for(self.receive_frame(), HELLO_TIMEOUT)
            if hello.get("type") != "hello":
                raise refused
            return hello, await check(hello)
        except (FrontdeskError, asyncio.TimeoutError) as exc:
            await self.ws.send_json(self.error_frame(exc if isinstance(exc, FrontdeskError) else refused))
            await self.ws.close(code=close_code)
        except Disconnected:
            pass
        return None

    def send(self, frame: dict[str, Any]) -> None:
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            raise SubscriberTooSlow() from None

    def error_frame(self, exc: FrontdeskError, frame_id: Any = None) -> dict[str, Any]:
        keys = exc.message_keys
        body: dict[str, Any] = {
            "type": "error", "code": exc.code,
            "message": self.state.catalogs.first(
                self.lang, keys, **{"max": self.state.settings.max_message_chars, **exc.params}
            ),
        }
        if exc.field:
            body["field"] = exc.field
        if isinstance(frame_id, str) and len(frame_id) <= 64:
            body["id"] = frame_id
        return body

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Handle a frame in its own task (so commits overlap); keeps a reference."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sender(self) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                return
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))

    async def _pump(self, subscription: Subscription, forward: Callable[[dict[str, Any]], None]) -> None:
        while True:
            forward(await subscription.get())

    async def _reader(self, handle: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        while True:
            try:
                frame = await self.receive_frame()
            except FrontdeskError as exc:
                self.send(self.error_frame(exc))
                continue
            try:
                await handle(frame)
            except FrontdeskError as exc:
                self.send(self.error_frame(exc, frame.get("id")))

    async def serve(
        self,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        subscription: Subscription,
        forward: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run reader, hub pump and sender until the client goes or falls behind."""
        gauge = self.state.metrics.sockets.labels(self.kind)
        gauge.inc()
        tasks = [
            asyncio.create_task(self._sender()),
            asyncio.create_task(self._pump(subscription, forward)),
            asyncio.create_task(self._reader(handle)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if isinstance(exc, SubscriberTooSlow):
                    await self.ws.close(code=CLOSE_TOO_SLOW)
                elif exc is not None and not isinstance(exc, (Disconnected, WebSocketDisconnect)):
                    log.error("socket task failed", exc_info=exc)
        finally:
            for task in tasks + list(self._tasks):
                task.cancel()
            await asyncio.gather(*tasks, *self._tasks, return_exceptions=True)
            await subscription.close()
            gauge.dec()


async def refuse(websocket: WebSocket) -> None:
    """Refuse the upgrade: the client gets HTTP 403 (browsers show scripts no body anyway;
    the widget's HTTP calls, which come first, carry the readable error)."""
    await websocket.close(code=1008)
