"""The visitor socket: hello → welcome + replay after last_seq → live; send → ack."""

from __future__ import annotations

import time
from typing import Any

from starlette.websockets import WebSocket

from ..errors import BadFrame, InvalidToken, RateLimited
from ..realtime.hub import OPERATORS, SubscriberTooSlow, conversation_channel, encoded, site_channel
from ..security import VisitorClaim
from ..services import chat, fields, rates, sites, visitors
from ..store.sites import Site
from ..store.visitors import Visitor
from . import widget_leads
from .addresses import client_address
from .context import app_state, language, own_origin
from .sockets import CLOSE_BAD_HELLO, FrameSocket, refuse

CLOSE_TOO_MANY = 4429
REPLAY_PAGE = 500
_HOLD_LIMIT = 2000  # live messages held back during a replay before the client is dropped

# Frame type -> (public limit name, setting): every frame a visitor sends is limited.
# message.send is limited in handle(), after its checks, so a malformed one costs nothing.
_FRAME_LIMITS = {
    "typing": ("visitor_typing", "visitor_typing_per_minute"),
    "visitor.identify": ("visitor_identifies", "visitor_identifies_per_minute"),
    "page.viewed": ("visitor_pages", "visitor_pages_per_minute"),
}
_OTHER_FRAMES = ("visitor_frames", "visitor_frames_per_minute")


class VisitorConnection:
    def __init__(self, socket: FrameSocket, site: Site, claim: VisitorClaim, visitor_name: str | None) -> None:
        self.socket = socket
        self.state = socket.state
        self.site = site
        self.claim = claim
        self.visitor_name = visitor_name
        self.conversation_id: str | None = None
        self.site_changed = False  # an admin changed the site since ``site`` was read
        self.sent_seq = 0  # highest seq this client has been sent
        self.held: list[dict[str, Any]] | None = None  # live messages that came during a replay
        self.subscription = self.state.hub.subscription()

    async def follow(self, conversation_id: str) -> None:
        """Subscribe to the conversation, then stream what the client lacks, page by page
        (no gap, no double, any length). Live messages that arrive meanwhile are held and
        sent after the replay, so a newer one cannot jump ahead of what is being replayed."""
        if self.conversation_id == conversation_id:
            return
        self.conversation_id = conversation_id
        self.held = []
        try:
            await self.subscription.add(conversation_channel(conversation_id))
            while True:
                page = await chat.messages_after(self.state.db, conversation_id, self.sent_seq, limit=REPLAY_PAGE)
                for message in page:
                    await self.socket.put(self.message_frame(conversation_id, message.public()))
                    self.sent_seq = message.seq
                if len(page) < REPLAY_PAGE:
                    break
        finally:
            held, self.held = self.held, None
        for frame in held:
            self.send_message(frame)

    @staticmethod
    def message_frame(conversation_id: str, message: dict[str, Any]) -> dict[str, Any]:
        return {"type": "message.created", "conversation_id": conversation_id, "message": message}

    def send_message(self, frame: dict[str, Any]) -> None:
        """A live ``message.created`` (shared by every socket of the conversation: sent as
        encoded once), unless this client has it."""
        seq = frame["message"]["seq"]
        if seq <= self.sent_seq:
            return
        self.sent_seq = seq
        self.socket.send(encoded(frame, "visitor"))

    def forward(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "message.created":
            if self.held is not None:
                if len(self.held) >= _HOLD_LIMIT:
                    raise SubscriberTooSlow()
                self.held.append(frame)
            else:
                self.send_message(frame)
        else:
            if frame.get("type") == "site.updated":  # read again before a first message (pre-chat form)
                self.site_changed = True
            self.socket.send(encoded(frame, "visitor"))

    async def admit(self, kind: str) -> None:
        """Every frame type has a per-visitor limit (shared by the visitor's sockets and nodes)."""
        if kind == "message.send":
            return
        name, setting = _FRAME_LIMITS.get(kind, _OTHER_FRAMES)
        await rates.check_per_minute(
            self.state.throttle, name, self.claim.visitor_id, per_minute=getattr(self.state.settings, setting),
            field="type",
        )

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message.send":
            client_id, body = chat.check_message(
                frame.get("id"), frame.get("body"), max_chars=self.state.settings.max_message_chars
            )
            await chat.check_visitor_rate(
                self.state.throttle, self.claim.visitor_id, per_minute=self.state.settings.visitor_messages_per_minute
            )
            if self.conversation_id is None:  # a first message: a required pre-chat form is checked
                await widget_leads.check_prechat(self)  # after the limit: a refused flood stays bounded
            pending = chat.queue_visitor_message(
                self.state.writer, self.site.id, self.claim.visitor_id, client_id, body, visitor_name=self.visitor_name,
                offline_mail=None if self.state.presence.online(self.site.id) else self.state.mail,
            )
            received = time.perf_counter()

            def acked(ack: chat.Ack) -> None:
                metrics = self.state.metrics
                metrics.visitor_messages.inc()
                metrics.ack_latency.observe(time.perf_counter() - received)
                if ack.conversation_id != self.conversation_id:  # the first: follow it from now on
                    self.socket.spawn(self.follow(ack.conversation_id))

            self.socket.acknowledge(pending, client_id, acked)
        elif kind == "typing":
            if self.conversation_id:
                await self.state.hub.publish(
                    OPERATORS,
                    {"type": "typing", "conversation_id": self.conversation_id, "site_id": self.site.id,
                     "typing": bool(frame.get("typing"))},
                )
        elif kind == "visitor.identify":
            data = {k: frame[k] for k in visitors.IDENTITY_FIELDS + visitors.VERIFIED_FIELDS if k in frame}
            region = await widget_leads.phone_region(self, data)
            result = await visitors.identify(self.state.writer, self.claim, data, region=region, site=self.site)
            refused = {}
            for field, exc in result.refused.items():
                error = self.socket.error_frame(exc)
                refused[field] = {"code": error["code"], "message": error["message"]}
            answer = {"type": "identified", "id": frame.get("id"), "accepted": list(result.accepted), "refused": refused}
            if result.switched:
                # Verified as a user whose record another device made: this device adopts it
                # (the panel reconnects with this token and shows that conversation).
                answer["token"] = widget_leads.adopted_token(self, result.visitor)
            else:
                self.visitor_name = result.visitor.name
            self.socket.send(answer)
        elif kind == "page.viewed":
            await widget_leads.page_viewed(self, frame)
        elif kind == "ping":
            self.socket.send({"type": "pong"})
        elif kind == "hello":
            raise BadFrame(field="type")
        else:
            raise BadFrame(field="type")

async def visitor_socket(websocket: WebSocket) -> None:
    state = app_state(websocket)
    lang = language(websocket)
    site = await sites.site_by_key(state.db, websocket.query_params.get("site", ""))
    if site is None or not sites.origin_allowed(site, websocket.headers.get("origin"), own_origin(websocket)):
        await refuse(websocket)
        return
    site = state.sites_in_use.share(site.id, site)  # kept for the socket's life: one object per site
    address = client_address(websocket) or "-"
    if not state.socket_counts.acquire(address, state.settings.sockets_per_ip):
        await refuse_too_many(websocket, FrameSocket(websocket, state, lang, "visitor"))
        return
    try:
        await websocket.accept()
        await serve_visitor(FrameSocket(websocket, state, lang, "visitor"), site)
    finally:
        state.socket_counts.release(address)


async def refuse_too_many(websocket: WebSocket, socket: FrameSocket) -> None:
    """Over the per-address socket limit: told why (an error frame and the close reason)."""
    limit = socket.state.settings.sockets_per_ip
    await websocket.accept()
    await websocket.send_text(socket.encode(socket.error_frame(RateLimited(limit="sockets_per_ip", reason="sockets", max=limit))))
    await websocket.close(code=CLOSE_TOO_MANY, reason=f"too many connections from this address (at most {limit})")


async def serve_visitor(socket: FrameSocket, site: Site) -> None:
    state = socket.state

    async def check(hello: dict[str, Any]) -> tuple[Visitor, dict[str, Any] | None, int]:
        visitor, conversation = await visitors.check_visitor(state.db, state.signer, site, hello.get("token"))
        return visitor, conversation, fields.position(hello.get("last_seq"), "last_seq") or 0

    greeted = await socket.receive_hello(check, refused=InvalidToken(), close_code=CLOSE_BAD_HELLO)
    if greeted is None:
        return
    hello, (visitor, conversation, last_seq) = greeted
    connection = VisitorConnection(socket, site, VisitorClaim(visitor.id, site.id), visitor.name)
    connection.sent_seq = last_seq
    # site.updated (the panel re-reads its config) and presence (the site's operators on duty);
    # subscribed before the welcome reads presence, so no flip falls in between.
    await connection.subscription.add(site_channel(site.id))
    socket.send({
        "type": "welcome",
        "visitor": visitor.public(),
        "conversation": conversation,
        "operators_online": state.presence.online(site.id),
    })
    replay = connection.follow(conversation["id"]) if conversation is not None else None
    del greeted, hello, visitor, conversation  # else held for the socket's life (memory per idle socket, issue 20)
    await socket.serve(connection.handle, connection.subscription, connection.forward, replay=replay, admit=connection.admit)
