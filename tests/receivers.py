"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that checks every
delivery's signature with the `standardwebhooks` library and counts webhook-ids."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from standardwebhooks import Webhook, WebhookVerificationError

from tests.clients import scrape_metrics
from tests.servers import ServerProcess

# Fast retries and short leases, so a test sees a whole retry schedule and a takeover.
WEBHOOK_ENV = {
    "FRONTDESK_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",  # the receiver is on 127.0.0.1
    "FRONTDESK_WEBHOOK_RETRY_SECONDS": "1,1",
    "FRONTDESK_WEBHOOK_TIMEOUT_SECONDS": "2",
    "FRONTDESK_WORKER_LEASE_SECONDS": "4",
    "FRONTDESK_WORKER_POLL_SECONDS": "0.2",
}

# Decides the answer to an attempt: (webhook-id, how many times this id came before) -> status.
Responder = Callable[[str, int], int]


@dataclass
class Delivery:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]


@dataclass
class Receiver:
    secret: str = ""
    respond: Responder = lambda _id, _n: 204
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)  # every request, by webhook-id
    accepted: Counter[str] = field(default_factory=Counter)  # answered 2xx, by webhook-id
    deliveries: list[Delivery] = field(default_factory=list)  # the accepted ones, in order
    bad_signatures: int = 0
    open_gate: threading.Event = field(default_factory=threading.Event)
    held: int = 0  # requests waiting at a closed gate

    def __post_init__(self) -> None:
        self.open_gate.set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/frontdesk"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                msg_id = headers.get("webhook-id", "")
                with receiver.lock:
                    before = receiver.requests[msg_id]
                    receiver.requests[msg_id] += 1
                    receiver.held += 1
                receiver.open_gate.wait(60)
                with receiver.lock:
                    receiver.held -= 1
                status = receiver.respond(msg_id, before)
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    status = 401
                else:
                    if 200 <= status < 300:
                        with receiver.lock:
                            receiver.accepted[msg_id] += 1
                            receiver.deliveries.append(Delivery(msg_id, headers, body, payload))
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone (killed or timed out)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.open_gate.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def payloads(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Accepted payloads in event order (deliveries run concurrently and may arrive in any order)."""
        with self.lock:
            chosen = [d.payload for d in self.deliveries if event_type is None or d.payload["type"] == event_type]
        return sorted(chosen, key=lambda p: p["data"]["event_id"])

    async def wait_for(self, predicate: Callable[["Receiver"], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return
            await asyncio.sleep(0.05)
        with self.lock:
            raise AssertionError(
                f"timed out waiting for {what}: requests={dict(self.requests)} accepted={dict(self.accepted)} "
                f"held={self.held} bad_signatures={self.bad_signatures}"
            )


BACKLOG = 'frontdesk_outbox_backlog{worker="webhooks"}'


async def metric_becomes(server: ServerProcess, name: str, value: float, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = scrape_metrics(server).get(name)
        if seen == value:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} stayed {seen}, expected {value}")


def webhook_jobs(server: ServerProcess, outcome: str) -> float:
    return scrape_metrics(server).get(f'frontdesk_worker_jobs_total{{outcome="{outcome}",worker="webhooks"}}', 0.0)
