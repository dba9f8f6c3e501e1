"""What both websockets share: JSON frames in, frames out written by whoever sends them,
live frames in straight from the hub's fan-out.

A frame is written to the transport when it is sent: the ASGI send of a frame completes
at once unless the client's socket is full, and only then do frames queue, in order,
behind the write that waits (no sender task and no queue per socket). Live frames reach
the socket by the subscription's callback (no pump task and no queue per socket). A
client that cannot keep up with live frames is dropped; it resumes by seq. A replay (any
size) streams, waiting for room when the client reads slowly; live frames that come
meanwhile are held and sent after it, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Awaitable, Callable, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import BadFrame, FrontdeskError, TooLarge
from ..realtime.cork import text_frame
from ..realtime.hub import SubscriberTooSlow, Subscription, encode
from ..state import AppState
from . import json_input
from .ws_protocol import RAW_WRITES

log = logging.getLogger(__name__)
T = TypeVar("T")

_OUT_LIMIT = 5000
_HOLD_LIMIT = 5000  # live frames held during a replay before the client is dropped
HELLO_TIMEOUT = 15.0
STALL_TIMEOUT = 30.0  # a replay waits this long for the client to read before dropping it
CLOSE_TOO_SLOW = 1013  # "try again later": the client reconnects and resumes
CLOSE_BAD_HELLO = 4400
CLOSE_INVALID_TOKEN = 4401


# Frame types whose handler checks these fields itself, each on its own (and names a refused one).
FIELD_CHECKED_FRAMES: dict[str, tuple[str, ...]] = {"visitor.identify": ("name", "email", "phone")}


class Disconnected(Exception):
    pass


class RefusedFrame(Exception):
    """A frame that parsed but is refused as a whole; its id goes into the error frame."""

    def __init__(self, error: FrontdeskError, frame_id: Any) -> None:
        super().__init__(str(error))
        self.error = error
        self.frame_id = None if error.field == "id" else frame_id


class FrameSocket:
    def __init__(self, websocket: WebSocket, state: AppState, lang: str, kind: str) -> None:
        self.kind = kind  # visitor | operator: the label of the open-sockets metric
        self.ws = websocket
        self.state = state
        self.lang = lang
        # Memory per idle socket (issue 20): no asyncio.Queue (four deques and an Event), the
        # queue itself made only when a slow client holds up a write (an empty deque is
        # ~0.8 KiB), no reader task and no future to wait for the end on (see serve()).
        self._out: deque[dict[str, Any] | str] | None = None
        self._blocked: asyncio.Task[None] | None = None  # finishing a write the client's socket could not take
        self._room: asyncio.Future[None] | None = None  # a streaming replay waits on it when the queue is full
        self._tasks: set[asyncio.Task[Any]] | None = None
        self._ended_by: Exception | None = None  # why the socket is to end (too slow, gone), once decided
        self._serving: asyncio.Task[Any] | None = None  # the task in serve(): cancelled to end it
        self._holding: list[dict[str, Any]] | None = None  # live frames that came during a replay
        self._forward: Callable[[dict[str, Any]], None] | None = None
        # The server's own protocol writes built frames straight to the transport (ws_protocol.py).
        self._raw = websocket.scope.get("extensions", {}).get(RAW_WRITES)

    async def receive_frame(self) -> dict[str, Any]:
        """The next frame as a dict. Raises BadFrame/TooLarge for what is not a frame,
        RefusedFrame for a frame with text that is not text, Disconnected at the end."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise Disconnected()
        raw = message.get("text")
        if raw is None:
            raise BadFrame()
        limit = self.state.settings.max_frame_bytes
        # Characters are 1-4 bytes: only a long frame needs encoding to be measured.
        if len(raw) > limit // 4 and len(raw.encode("utf-8", "surrogatepass")) > limit:
            raise TooLarge(field="frame", max=limit)
        frame = json_input.parse(raw)
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise BadFrame()
        # identify checks each of its fields on its own and keeps the good ones: a name that
        # is not text must not cost the visitor the phone number beside it.
        own = FIELD_CHECKED_FRAMES.get(frame["type"], ())
        rest = {key: value for key, value in frame.items() if key not in own} if own else frame
        try:
            json_input.check(rest, raw, root="frame")
        except FrontdeskError as exc:
            raise RefusedFrame(exc, frame.get("id")) from None
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
        except (FrontdeskError, RefusedFrame, asyncio.TimeoutError) as exc:
            error = exc.error if isinstance(exc, RefusedFrame) else exc if isinstance(exc, FrontdeskError) else refused
            await self.ws.send_text(self.encode(self.error_frame(error)))
            await self.ws.close(code=CLOSE_INVALID_TOKEN if error.code == "invalid_token" else close_code)
        except Disconnected:
            pass
        return None

    def send(self, frame: dict[str, Any] | str) -> None:
        """Send a frame (or its encoded text) now, from the caller — the hub's fan-out, an ack
        callback, the reader: no sender task and no hand-off per frame (issue 20). Only
        when the client's socket is full (the server's write buffer over its high-water
        mark) are frames queued, behind the write that waits; a client too far behind is
        dropped."""
        if self._blocked is not None:
            if self._out is None:
                self._out = deque()
            elif len(self._out) >= _OUT_LIMIT:
                raise SubscriberTooSlow()
            self._out.append(frame)
            return
        self._write(frame if isinstance(frame, str) else encode(frame))

    def _write(self, text: str) -> None:
        if self._ended_by is not None:
            return
        raw = self._raw
        if raw is not None:
            # In a committed batch's fan-out: gathered, written once per socket (realtime/cork.py).
            if self.state.cork.gather(self, text) or raw.write_frame(text_frame(text)):
                return
        self._send_asgi(text)

    def flush(self, texts: list[str], framed: Callable[[str], bytes]) -> None:
        """What a fan-out gathered for this socket, in one write (the usual way if it cannot)."""
        if self._ended_by is not None:
            return
        try:
            if self._raw is not None and self._raw.write_frame(b"".join([framed(text) for text in texts])):
                return
            for text in texts:
                self.send(text)
        except Exception as exc:  # noqa: BLE001 - one socket's fault must not stop the fan-out to others
            self._faulted(exc, "gathered frames could not be written")

    def _faulted(self, exc: Exception, what: str) -> None:
        """A frame for this socket failed in a fan-out: the socket is dropped (it resumes by seq)."""
        if not isinstance(exc, SubscriberTooSlow):
            log.error(what, exc_info=exc)
        self.drop()

    def _send_asgi(self, text: str) -> None:
        # The ASGI send of a text frame returns without suspending unless the transport
        # is paused for a slow reader: step it here, and only then hand it to a task.
        write = self.ws.send({"type": "websocket.send", "text": text})
        try:
            waiting = write.send(None)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001 - the client went, or the socket is closing
            self._end(Disconnected())
            return
        self._blocked = asyncio.ensure_future(self._finish(write, waiting))

    async def _finish(self, write: Any, waiting: Any) -> None:
        """Finish a write that had to wait for the client, then send what queued behind it."""
        try:
            while True:
                await _drive(write, waiting)
                if self._room is not None and not self._room.done() and self.queued() < _OUT_LIMIT // 2:
                    self._room.set_result(None)
                if not self._out:
                    self._out = None  # the client caught up: no queue while it keeps up
                    return
                frame = self._out.popleft()
                write = self.ws.send({"type": "websocket.send", "text": frame if isinstance(frame, str) else encode(frame)})
                waiting = _FRESH
        except asyncio.CancelledError:
            write.close()
            raise
        except Exception:  # noqa: BLE001 - the client went
            self._end(Disconnected())
        finally:
            self._blocked = None

    def _end(self, exc: Exception) -> None:
        """The socket is to end (``exc``: why): the task in serve() is cancelled, and serve()
        closes the socket as ``exc`` says. Before serve() or after it, only noted; from
        within serve()'s own task too (a cancellation of oneself cannot be taken back before
        it lands): the reader and a streaming replay look at it before their next step."""
        if self._ended_by is not None:
            return
        self._ended_by = exc
        if self._serving is not None and self._serving is not asyncio.current_task():
            self._serving.cancel()

    def queued(self) -> int:
        return len(self._out) if self._out is not None else 0

    async def put(self, frame: dict[str, Any] | str) -> None:
        """Send a frame, waiting for room: how a replay streams whatever its size. A
        client that reads nothing for STALL_TIMEOUT is dropped."""
        if self._ended_by is not None:
            raise self._ended_by
        while self.queued() >= _OUT_LIMIT:
            self._room = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._room, STALL_TIMEOUT)
            except asyncio.TimeoutError:
                raise SubscriberTooSlow() from None
        self.send(frame)

    def error_frame(self, exc: FrontdeskError, frame_id: Any = None) -> dict[str, Any]:
        keys = exc.message_keys
        body: dict[str, Any] = {
            "type": "error", "code": exc.code,
            "message": self.state.catalogs.first(
                self.lang, keys, **{"max": self.state.settings.max_message_chars, **exc.message_params}
            ),
        }
        if exc.field:
            body["field"] = exc.field
        body.update(exc.extra())
        if isinstance(frame_id, str) and len(frame_id) <= 64 and json_input.is_text(frame_id):
            body["id"] = frame_id
        return body

    @staticmethod
    def encode(frame: dict[str, Any]) -> str:
        return encode(frame)

    def acknowledge(self, future: asyncio.Future[Any], client_id: str, on_ack: Callable[[Any], None]) -> None:
        """When ``future`` (a queued write) resolves, send its ack frame — or its error — from
        the future's callback: no task and no shield per message (issue 20). The write goes
        on if this socket goes."""

        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            try:
                if exc is None:
                    ack = future.result()
                    self.send(ack.frame())
                    on_ack(ack)
                elif isinstance(exc, FrontdeskError):
                    self.send(self.error_frame(exc, client_id))
                else:
                    log.error("a queued write failed", exc_info=exc)
            except SubscriberTooSlow:
                self.drop()

        future.add_done_callback(done)

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Handle a frame in its own task (so commits overlap); keeps a reference."""
        task = asyncio.ensure_future(coro)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def drop(self) -> None:
        """This client fell too far behind: the serving loop closes it (1013); it resumes by seq."""
        self._end(SubscriberTooSlow())

    def _live(self, frame: dict[str, Any]) -> None:
        """The subscription's callback: a live frame, straight from the hub's fan-out (no
        pump task and no queue per subscriber). Held while a replay streams, so it cannot
        overtake what is being replayed."""
        if self._ended_by is not None:
            return
        try:
            if self._holding is not None:
                if len(self._holding) >= _HOLD_LIMIT:
                    raise SubscriberTooSlow()
                self._holding.append(frame)
            elif self._forward is not None:
                self._forward(frame)
        except Exception as exc:  # noqa: BLE001 - one socket's fault must not stop the fan-out to others
            self._faulted(exc, "a live frame could not be forwarded")

    async def _reader(
        self, handle: Callable[[dict[str, Any]], Awaitable[None]], admit: Callable[[str], Awaitable[None]] | None
    ) -> None:
        while True:
            if self._ended_by is not None:  # decided in this task (see _end)
                raise self._ended_by
            frame: dict[str, Any] = {}
            try:
                try:
                    frame = await self.receive_frame()
                except RefusedFrame as refused:
                    if admit is not None:
                        await admit("malformed")
                    self.send(self.error_frame(refused.error, refused.frame_id))
                    continue
                except FrontdeskError:
                    if admit is not None:
                        await admit("malformed")  # a flood of garbage is limited like any frame
                    raise
                if admit is not None:
                    await admit(frame["type"])
                await handle(frame)
            except FrontdeskError as exc:
                self.send(self.error_frame(exc, frame.get("id")))

    async def serve(
        self,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        subscription: Subscription,
        forward: Callable[[dict[str, Any]], None],
        *,
        replay: Awaitable[None] | None = None,
        admit: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """Stream ``replay``, then read and handle frames until the client goes or falls
        behind; live frames come meanwhile by the subscription's callback. ``admit(frame
        type)`` may refuse a frame (rate limits) before ``handle`` sees it.

        The reader runs in this task, not a task of its own, and the end is not a future
        waited on beside it (memory per idle socket, issue 20): what decides that the socket
        ends (a slow client, a write that failed) cancels this task, and the cancellation is
        taken back here; any other cancellation goes on up."""
        gauge = self.state.metrics.sockets.labels(self.kind)
        gauge.inc()
        self._forward = forward
        self._holding = []
        subscription.listen(self._live)
        self._serving = asyncio.current_task()
        try:
            if self._ended_by is not None:  # decided before serving began (the welcome could not be sent)
                if asyncio.iscoroutine(replay):
                    replay.close()
                raise asyncio.CancelledError()
            if replay is not None:
                await replay  # the client is current after it
            held, self._holding = self._holding, None
            for frame in held:
                self._live(frame)
            await self._reader(handle, admit)
        except asyncio.CancelledError:
            serving, self._serving = self._serving, None
            ended_by = self._ended_by
            if ended_by is None or serving is None or (serving.cancelling() and serving.uncancel() > 0):
                raise  # cancelled from outside (the server stops, a console's session ended)
            await self._ended(ended_by)
        except Exception as exc:  # noqa: BLE001 - sorted out in _ended
            self._serving = None
            await self._ended(exc)
        finally:
            self._serving = None
            self._forward = None
            tasks = list(self._tasks or ())
            if self._blocked is not None:
                tasks.append(self._blocked)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await subscription.close()
            gauge.dec()

    async def _ended(self, exc: BaseException) -> None:
        if isinstance(exc, SubscriberTooSlow):
            await self.ws.close(code=CLOSE_TOO_SLOW)
        elif not isinstance(exc, (Disconnected, WebSocketDisconnect)):
            log.error("socket task failed", exc_info=exc)


_FRESH = object()  # a write not started yet


async def _drive(write: Any, waiting: Any) -> None:
    """Run the coroutine ``write`` to its end in this task; it is fresh (``_FRESH``) or was
    stepped elsewhere and is suspended on ``waiting`` (a future, or None for a bare yield)."""
    while True:
        if waiting is None:
            await asyncio.sleep(0)
        elif waiting is not _FRESH:
            await asyncio.wait((waiting,))
        try:
            waiting = write.send(None)
        except StopIteration:
            return


async def refuse(websocket: WebSocket) -> None:
    """Refuse the upgrade: the client gets HTTP 403 (browsers show scripts no body anyway;
    the widget's HTTP calls, which come first, carry the readable error)."""
    await websocket.close(code=1008)
