"""The visitor socket: hello → welcome + replay after last_seq → live; send → ack."""

from __future__ import annotations

import asyncio

import time
from typing import Any

from starlette.websockets import WebSocket

from ..errors import BadFrame, FrontdeskError, InvalidToken
from ..realtime.hub import OPERATORS, conversation_channel
from ..realtime.presence import PRESENCE
from ..security import VisitorClaim
from ..services import chat, sites, visitors
from ..store.sites import Site
from ..store.visitors import Visitor
from .context import app_state, language, own_origin
from .sockets import FrameSocket, refuse

CLOSE_INVALID_TOKEN = 4401


class VisitorConnection:
    def __init__(self, socket: FrameSocket, site: Site, claim: VisitorClaim, visitor_name: str | None) -> None:
        self.socket = socket
        self.state = socket.state
        self.site = site
        self.claim = claim
        self.visitor_name = visitor_name
        self.conversation_id: str | None = None
        self.sent_seq = 0  # highest seq this client has been sent
        self.subscription = self.state.hub.subscription()

    async def follow(self, conversation_id: str) -> None:
        """Subscribe to the conversation, then send what the client lacks (no gap, no double)."""
        if self.conversation_id == conversation_id:
            return
        self.conversation_id = conversation_id
        await self.subscription.add(conversation_channel(conversation_id))
        for message in await chat.messages_after(self.state.db, conversation_id, self.sent_seq):
            self.send_message(conversation_id, message.public())

    def send_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        if message["seq"] <= self.sent_seq:
            return
        self.sent_seq = message["seq"]
        self.socket.send({"type": "message.created", "conversation_id": conversation_id, "message": message})

    def forward(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "message.created":
            self.send_message(frame["conversation_id"], frame["message"])
        else:
            self.socket.send(frame)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message.send":
            client_id, body = chat.check_message(
                frame.get("id"), frame.get("body"), max_chars=self.state.settings.max_message_chars
            )
            await chat.check_visitor_rate(
                self.state.limiter, self.claim.visitor_id, per_minute=self.state.settings.visitor_messages_per_minute
            )
            pending = chat.queue_visitor_message(
                self.state.writer, self.site.id, self.claim.visitor_id, client_id, body, visitor_name=self.visitor_name
            )
            self.socket.spawn(self._acknowledge(client_id, pending, time.perf_counter()))
        elif kind == "typing":
            if self.conversation_id:
                await self.state.hub.publish(
                    OPERATORS,
                    {"type": "typing", "conversation_id": self.conversation_id, "typing": bool(frame.get("typing"))},
                )
        elif kind == "visitor.identify":
            data = {k: frame[k] for k in visitors.IDENTITY_FIELDS if k in frame}
            result = await visitors.identify(self.state.writer, self.claim, data)
            self.visitor_name = result.visitor.name
            refused = {}
            for field, exc in result.refused.items():
                error = self.socket.error_frame(exc)
                refused[field] = {"code": error["code"], "message": error["message"]}
            self.socket.send(
                {"type": "identified", "id": frame.get("id"), "accepted": list(result.accepted), "refused": refused}
            )
        elif kind == "ping":
            self.socket.send({"type": "pong"})
        elif kind == "hello":
            raise BadFrame(field="type")
        else:
            raise BadFrame(field="type")

    async def _acknowledge(self, client_id: str, pending: asyncio.Future[chat.Ack], received: float) -> None:
        try:
            ack = await asyncio.shield(pending)  # the write goes on if this socket goes
        except FrontdeskError as exc:
            self.socket.send(self.socket.error_frame(exc, client_id))
            return
        self.socket.send(ack.frame())
        metrics = self.state.metrics
        metrics.messages.labels("visitor").inc()
        metrics.ack_latency.observe(time.perf_counter() - received)
        await self.follow(ack.conversation_id)


async def visitor_socket(websocket: WebSocket) -> None:
    state = app_state(websocket)
    lang = language(websocket)
    site = await sites.site_by_key(state.db, websocket.query_params.get("site", ""))
    if site is None or not sites.origin_allowed(site, websocket.headers.get("origin"), own_origin(websocket)):
        await refuse(websocket)
        return
    await websocket.accept()
    socket = FrameSocket(websocket, state, lang, "visitor")

    async def check(hello: dict[str, Any]) -> tuple[Visitor, dict[str, Any] | None]:
        return await visitors.check_visitor(state.db, state.signer, site, hello.get("token"))

    greeted = await socket.receive_hello(check, refused=InvalidToken(), close_code=CLOSE_INVALID_TOKEN)
    if greeted is None:
        return
    hello, (visitor, conversation) = greeted
    last_seq = hello.get("last_seq")
    connection = VisitorConnection(socket, site, VisitorClaim(visitor.id, site.id), visitor.name)
    connection.sent_seq = last_seq if isinstance(last_seq, int) and last_seq >= 0 else 0
    await connection.subscription.add(PRESENCE)
    socket.send({
        "type": "welcome",
        "visitor": visitor.public(),
        "conversation": conversation,
        "operators_online": state.presence.online(),
    })
    if conversation is not None:
        await connection.follow(conversation["id"])
    await socket.serve(connection.handle, connection.subscription, connection.forward)
