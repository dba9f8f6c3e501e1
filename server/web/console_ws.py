"""The operator socket: hello → replay stored events after after_event → live; reply → ack.

The socket lives only as long as its session: when the session ends (logout, password,
role or active change) the socket gets an ``unauthorized`` error and is closed with 4401.
It learns this from the operator's hub channel at once, or from a check of the session
row every FRONTDESK_SESSION_CHECK_SECONDS (a change made where no hub reaches, e.g. the
CLI of a single node without Redis).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import BadFrame, Unauthorized
from ..realtime.hub import OPERATORS, SESSION_ENDED, conversation_channel, encoded, operator_channel
from ..services import chat, conversations, fields, operators, rates
from ..store.operators import Session
from ..store.outbox import events_after, last_event_id
from .console import presenting
from .console.auth_cookies import current_session
from .context import app_state, language, own_origin
from .sockets import CLOSE_BAD_HELLO, FrameSocket, refuse

log = logging.getLogger(__name__)

CLOSE_SESSION_ENDED = 4401


class OperatorConnection:
    def __init__(self, socket: FrameSocket, session: Session) -> None:
        self.socket = socket
        self.state = socket.state
        self.session = session
        self.operator = session.operator
        self.sent_event = 0
        self.subscription = self.state.hub.subscription()
        self.session_ended = asyncio.Event()

    async def watch_session(self) -> None:
        """Returns once this socket's session has ended: looked up when the hub says so,
        and every FRONTDESK_SESSION_CHECK_SECONDS (the database decides, not the announcement)."""
        every = self.state.settings.session_check_seconds
        while True:
            try:
                await asyncio.wait_for(self.session_ended.wait(), every)
            except asyncio.TimeoutError:
                pass
            self.session_ended.clear()
            try:
                alive = await operators.session_alive(self.state.db, self.session.id)
            except Exception:  # noqa: BLE001 - a database hiccup must not end a live console
                log.warning("could not check a console session; trying again later", exc_info=True)
                continue
            if not alive:
                return

    def forward(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == SESSION_ENDED:  # from the operator's channel: not for the client
            if frame.get("session_id") in (None, self.session.id):
                self.session_ended.set()
            return
        if not self.may_see(frame):
            return
        event_id = frame.get("event_id")
        if event_id is not None:
            if event_id <= self.sent_event:
                return
            self.sent_event = event_id
            self.socket.send(encoded(frame, "console", presenting.frame))  # once per event, not per console
            return
        self.socket.send(frame)

    def may_see(self, frame: dict[str, Any]) -> bool:
        """An operator limited to some sites gets only their events and typing (a frame
        that names no site is for everyone: presence, session ends)."""
        if self.operator.site_ids is None:
            return True
        site_id = frame.get("site_id")
        return (site_id is None and "event_id" not in frame) or self.operator.may_see_site(site_id)

    async def replay(self, after: int) -> None:
        """Stream the stored events after ``after``, a page at a time, waiting for the
        client to read (any backlog: 5,000 missed events used to overflow the send queue
        before the sender ran). The hub pump starts after this, so live events cannot
        overtake the replay."""
        self.sent_event = after
        while True:
            after = self.sent_event
            upto = self.state.relay_position()  # several nodes: only what cannot have gaps fill in
            batch = await self.state.db.read(lambda conn: events_after(conn, after, upto=upto))
            for event in batch:
                if self.operator.may_see_site(event.site_id):
                    await self.socket.put(presenting.frame(event.frame()))
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
                self.state.writer, self.operator, frame.get("conversation_id"), client_id, body, mail=self.state.mail
            )
            received = time.perf_counter()

            def acked(_: chat.Ack) -> None:
                self.state.metrics.operator_messages.inc()
                self.state.metrics.ack_latency.observe(time.perf_counter() - received)

            self.socket.acknowledge(pending, client_id, acked)
        elif kind == "typing":
            conversation_id = frame.get("conversation_id")
            if isinstance(conversation_id, str) and len(conversation_id) <= 64:
                await self.state.hub.publish(
                    conversation_channel(conversation_id),
                    {"type": "typing", "conversation_id": conversation_id, "typing": bool(frame.get("typing"))},
                )
        elif kind == "conversation.read":
            await chat.mark_read(self.state.writer, frame.get("conversation_id"), self.operator.site_ids)
        elif kind == "ping":
            self.socket.send({"type": "pong"})
        elif kind in ACTIONS:
            await self.act(kind, frame)
        else:
            raise BadFrame(field="type")

    async def admit(self, kind: str) -> None:
        """Every frame type has a per-operator limit, shared by the operator's sockets (and,
        with Redis, by the nodes): conversation actions, messages, typing, and the rest
        (conversation.read, ping, malformed or unknown frames). A refused frame does
        nothing and gets a ``rate_limited`` error naming the limit (and the frame's id)."""
        name, setting = _FRAME_LIMITS.get(kind, _OTHER_FRAMES)
        await rates.check_per_minute(
            self.state.throttle, name, str(self.operator.id), per_minute=getattr(self.state.settings, setting),
            field="type", reason="console",
        )

    async def act(self, kind: str, frame: dict[str, Any]) -> None:
        """A conversation action; "done" once committed (the change itself comes as its
        event, to every console alike), or an error naming the frame's id."""
        await ACTIONS[kind](self, frame)
        self.socket.send({"type": "done", "id": frame.get("id")})

    async def close_conversation(self, frame: dict[str, Any]) -> None:
        await conversations.close(self.state.writer, self.operator, frame.get("conversation_id"))

    async def reopen_conversation(self, frame: dict[str, Any]) -> None:
        await conversations.reopen(self.state.writer, self.operator, frame.get("conversation_id"))

    async def assign_conversation(self, frame: dict[str, Any]) -> None:
        await conversations.assign(
            self.state.writer, self.operator, frame.get("conversation_id"), frame.get("operator_id"), frame.get("note"),
            max_chars=self.state.settings.max_message_chars,
        )

    async def create_note(self, frame: dict[str, Any]) -> None:
        await conversations.add_note(
            self.state.writer, self.operator, frame.get("conversation_id"), frame.get("id"), frame.get("body"),
            max_chars=self.state.settings.max_message_chars,
        )


# Frame type -> handler: what an operator does to a conversation besides answering.
ACTIONS = {
    "conversation.close": OperatorConnection.close_conversation,
    "conversation.reopen": OperatorConnection.reopen_conversation,
    "conversation.assign": OperatorConnection.assign_conversation,
    "note.create": OperatorConnection.create_note,
}


# Frame type -> (limit name, setting of its per-minute budget); any other type: _OTHER_FRAMES.
_FRAME_LIMITS = {
    **{kind: ("operator_actions", "operator_actions_per_minute") for kind in ACTIONS},
    "message.send": ("operator_messages", "operator_messages_per_minute"),
    "typing": ("operator_typing", "operator_typing_per_minute"),
}
_OTHER_FRAMES = ("operator_frames", "operator_frames_per_minute")


async def console_socket(websocket: WebSocket) -> None:
    state = app_state(websocket)
    lang = language(websocket)
    # Only our own pages may open it: no cross-site websocket hijacking with the cookie.
    session = await current_session(websocket) if websocket.headers.get("origin") == own_origin(websocket) else None
    if session is None:
        await refuse(websocket)
        return
    operator = session.operator
    await websocket.accept()
    socket = FrameSocket(websocket, state, lang, "operator")

    async def check_hello(hello: dict[str, Any]) -> int | None:
        return fields.position(hello.get("after_event"), "after_event")

    greeted = await socket.receive_hello(check_hello, refused=BadFrame(field="type"), close_code=CLOSE_BAD_HELLO)
    if greeted is None:
        return
    after = greeted[1]
    connection = OperatorConnection(socket, session)
    await connection.subscription.add(operator_channel(operator.id))
    await connection.subscription.add(OPERATORS)
    position = state.relay_position()
    if position is None:
        position = await state.db.read(last_event_id)
    # Counted on duty (for the sites the operator works) before the welcome: once a console
    # has its welcome, those sites' widgets (and "call me back as soon as possible") see an
    # operator online.
    await state.presence.connected(operator.site_ids)
    socket.send({"type": "welcome", "operator": operator.public(), "last_event_id": position})
    serving = asyncio.ensure_future(socket.serve(
        connection.handle, connection.subscription, connection.forward,
        replay=connection.replay(position if after is None else after), admit=connection.admit,
    ))
    watching = asyncio.ensure_future(connection.watch_session())
    try:
        await asyncio.wait((serving, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (serving, watching):
            task.cancel()
        await asyncio.gather(serving, watching, return_exceptions=True)
        await state.presence.disconnected(operator.site_ids)
    if watching.done() and not watching.cancelled() and watching.exception() is None:
        await _close_ended(socket)


async def _close_ended(socket: FrameSocket) -> None:
    """Tell the console its session ended (it offers to log in again), then close."""
    try:
        await socket.ws.send_json(socket.error_frame(Unauthorized()))
        await socket.ws.close(code=CLOSE_SESSION_ENDED)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went first
