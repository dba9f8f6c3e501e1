"""Logging: plain text or one JSON object per line, each with the request id.

What we log is about requests and the system, never what visitors wrote: message
bodies, names, emails and phones stay out of logs at every level.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any, Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A context variable is per request (per task), not shared state between requests.
request_id: ContextVar[str | None] = ContextVar("frontdesk_request_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Which server of a process (the demo runs two) uvicorn's lines are about; set per task.
server_name: ContextVar[str | None] = ContextVar("frontdesk_server_name", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class NoClientAddressFilter(logging.Filter):
    """Drops uvicorn's per-websocket lines, which start with the visitor's IP address."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith('%s - "WebSocket'))


class ServerNameFilter(logging.Filter):
    """Prefixes uvicorn's lines with the name of the server they are about, where a
    process runs more than one ("Demo website: Shutting down")."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = server_name.get()
        if name and record.name.startswith("uvicorn") and isinstance(record.msg, str) and not hasattr(record, "server"):
            record.server = name
            record.msg = f"{name}: {record.msg}"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", "-") != "-":
            entry["request_id"] = record.request_id  # type: ignore[attr-defined]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A dictConfig for uvicorn and our own loggers."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    filters = ["request_id"] + ([] if level.lower() == "debug" else ["no_client_address"]) + ["server_name"]
    handler = {"class": "logging.StreamHandler", "formatter": "main", "filters": filters, "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter}, "no_client_address": {"()": NoClientAddressFilter},
            "server_name": {"()": ServerNameFilter},
        },
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": ["main"], "level": level.upper(), "propagate": False},
            # Access lines carry visitors' IP addresses: the CLI turns them on only at debug.
            "uvicorn.access": {"handlers": ["main"], "level": level.upper(), "propagate": False},
        },
    }


class RequestIdMiddleware:
    """Takes X-Request-Id from the proxy (if well-formed) or makes one; echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http":
            return self._http(scope, receive, send)
        if scope["type"] == "websocket":
            # Set in the connection's own task, which ends with the socket: nothing to reset,
            # and no frame of ours kept for the socket's life (memory per open socket, issue 20).
            request_id.set(self._id(scope))
        return self.app(scope, receive, send)

    @staticmethod
    def _id(scope: Scope) -> str:
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        return given if _VALID_ID.match(given) else uuid.uuid4().hex

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = self._id(scope)
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
