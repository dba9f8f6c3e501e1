"""The operator socket: hello → replay stored events after after_event → live; reply → ack."""

from __future__ import annotations

import asyncio

import time
from typing import Any

from starlette.websockets import WebSocket

from ..errors import BadFrame, FrontdeskError
from ..realtime.hub import OPERATORS, conversation_channel
from ..services import chat, fields
from ..store.operators import Operator
from ..store.outbox import events_after, last_event_id
from .console.auth_cookies import current_operator
from .context import app_state, language, own_origin
from .sockets import CLOSE_BAD_HELLO, FrameSocket, refuse


class OperatorConnection:
    def __init__(self, socket: FrameSocket, operator: Operator) -> None:
        self.socket = socket
        self.state = socket.state
        self.operator = operator
        self.sent_event = 0
        self.subscription = self.state.hub.subscription()

    def forward(self, frame: dict[str, Any]) -> None:
        event_id = frame.get("event_id")
        if event_id is not None:
            if event_id <= self.sent_event:
                return
            self.sent_event = event_id
        self.socket.send(frame)

    async def replay(self, after: int) -> None:
        """Stream the stored events after ``after``, a page at a time, waiting for the
        client to read (any backlog: 5,000 missed events used to overflow the send queue
        before the sender ran). The hub pump starts after this, so live events cannot
        overtake the replay."""
        self.sent_event = after
        while True:
            after = self.sent_event
            batch = await self.state.db.read(lambda conn: events_after(conn, after))
            for event in batch:
                await self.socket.put(event.frame())
                self.sent_event = event.id
            if len(batch) < 1000:
                return

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message.send":
            client_id, body = chat.check_message(
                frame.get("id"), frame.get("body"), max_chars=self.state.settings.max_message_chars
            )
            pending = chat.queue_operator_message(
                self.state.writer, self.operator, frame.get("conversation_id"), client_id, body
            )
            self.socket.spawn(self._acknowledge(client_id, pending, time.perf_counter()))
        elif kind == "typing":
            conversation_id = frame.get("conversation_id")
            if isinstance(conversation_id, str) and len(conversation_id) <= 64:
                await self.state.hub.publish(
                    conversation_channel(conversation_id),
                    {"type": "typing", "conversation_id": conversation_id, "typing": bool(frame.get("typing"))},
                )
        elif kind == "conversation.read":
            await chat.mark_read(self.state.writer, frame.get("conversation_id"))
        elif kind == "ping":
            self.socket.send({"type": "pong"})
        else:
            raise BadFrame(field="type")

    async def _acknowledge(self, client_id: str, pending: asyncio.Future[chat.Ack], received: float) -> None:
        try:
            ack = await asyncio.shield(pending)  # the write goes on if this socket goes
        except FrontdeskError as exc:
            self.socket.send(self.socket.error_frame(exc, client_id))
            return
        self.socket.send(ack.frame())
        self.state.metrics.messages.labels("operator").inc()
        self.state.metrics.ack_latency.observe(time.perf_counter() - received)


async def console_socket(websocket: WebSocket) -> None:
    state = app_state(websocket)
    lang = language(websocket)
    # Only our own pages may open it: no cross-site websocket hijacking with the cookie.
    operator = await current_operator(websocket) if websocket.headers.get("origin") == own_origin(websocket) else None
    if operator is None:
        await refuse(websocket)
        return
    await websocket.accept()
    socket = FrameSocket(websocket, state, lang, "operator")

    async def check_hello(hello: dict[str, Any]) -> int | None:
        return fields.position(hello.get("after_event"), "after_event")

    greeted = await socket.receive_hello(check_hello, refused=BadFrame(field="type"), close_code=CLOSE_BAD_HELLO)
    if greeted is None:
        return
    after = greeted[1]
    connection = OperatorConnection(socket, operator)
    await connection.subscription.add(OPERATORS)
    position = await state.db.read(last_event_id)
    socket.send({"type": "welcome", "operator": operator.public(), "last_event_id": position})
    await state.presence.connected(operator.id)
    try:
        await socket.serve(
            connection.handle, connection.subscription, connection.forward,
            replay=connection.replay(position if after is None else after),
        )
    finally:
        await state.presence.disconnected(operator.id)
