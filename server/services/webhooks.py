"""Webhooks: the endpoints integrators register, and what one delivery attempt sends.

Deliveries follow the Standard Webhooks scheme (https://www.standardwebhooks.com):
a JSON body ``{"type", "timestamp", "data"}`` and the headers ``webhook-id`` (the same
on every retry of one event, so a receiver drops repeats), ``webhook-timestamp`` and
``webhook-signature`` (HMAC-SHA256 with the endpoint's ``whsec_`` secret).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from ..errors import Invalid, NotFound
from ..store import leases
from ..store import webhooks as store
from ..store.db import Database, iso
from ..store.sites import Site
from ..store.webhooks import ALL_EVENTS, DeliveryJob, Endpoint
from ..store.writer import GroupWriter, Tx
from . import events, fields, outbound, sites

USER_AGENT = "Frontdesk-Webhooks"
MAX_URL_CHARS = 2048


async def create_endpoint(
    writer: GroupWriter,
    db: Database,
    site_key: Any,
    url: Any,
    *,
    event_types: Iterable[Any] = (),
    description: Any = None,
    allow_private: bool = False,
) -> Endpoint:
    site = await _site(db, site_key)
    clean_url = endpoint_url(url, allow_private=allow_private)
    types = [t.strip() if isinstance(t, str) else t for t in event_types]
    for t in types:
        if t != ALL_EVENTS and t not in events.CATALOGUE:
            raise Invalid(field="event_type", value=str(t)[:64], known=", ".join(events.CATALOGUE))
    clean_types = () if ALL_EVENTS in types else tuple(types)
    clean_description = fields.text(description, "description", max_chars=200, required=False)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()

    def job(tx: Tx) -> Endpoint:
        return store.insert_endpoint(
            tx.conn, site_id=site.id, url=clean_url, secret=secret, description=clean_description,
            event_types=clean_types,
        )

    return await writer.run(job)


def endpoint_url(value: Any, *, allow_private: bool) -> str:
    """An http(s) URL with a host; an address on our own networks only if allowed.

    The host is judged as the HTTP client will read it (``outbound.request_host``), so a
    look-alike spelling of an address is that address. The URL is kept as given."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(field="url")
    value = value.strip()
    if len(value) > MAX_URL_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        raise Invalid(field="url")
    try:
        parts = urlsplit(value)  # raises on a host whose NFKC form hides a / ? # @ or :
        parts.port
    except ValueError:
        raise Invalid(field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise Invalid(field="url")
    try:
        host = outbound.request_host(parts.hostname)
    except outbound.BadHost:
        raise Invalid("bad_host", field="url") from None
    address = outbound.host_address(host)
    if not allow_private and address is not None and not outbound.public(address):
        raise Invalid("private_address", field="url")
    return value


def loggable_url(url: str) -> str:
    """The URL without credentials, query or fragment: what logs may show of it."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


@dataclass(frozen=True)
class Request:
    body: str
    headers: dict[str, str]


def webhook_id(event_id: int) -> str:
    return f"evt_{event_id}"


def body(job: DeliveryJob) -> str:
    """Visitor text travels as JSON string data, never as markup or a template."""
    data = {"event_id": job.event.id, "site_key": job.site_key, **job.event.payload}
    return json.dumps(
        {"type": job.event.type, "timestamp": iso(job.event_created_at), "data": data},
        ensure_ascii=False, separators=(",", ":"),
    )


def request(job: DeliveryJob, now: datetime) -> Request:
    """The signed request of one attempt (each attempt is signed afresh, with its own time)."""
    text = body(job)
    msg_id = webhook_id(job.event.id)
    return Request(
        text,
        {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(job.secret).sign(msg_id, now, text),
        },
    )


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: the delivery's new columns, and a label for metrics."""

    label: str  # delivered | retrying | failed
    values: dict[str, Any]


def outcome(
    attempts_before: int, now: datetime, schedule: tuple[int, ...], *, status_code: int | None, error: str | None
) -> Outcome:
    common: dict[str, Any] = {"last_attempt_at": now, "last_status_code": status_code, "last_error": error}
    if error is None and status_code is not None and 200 <= status_code < 300:
        return Outcome("delivered", {**common, "status": leases.DONE, "delivered_at": now})
    if attempts_before < len(schedule):  # retry n+1 waits the n-th pause
        pause = timedelta(seconds=schedule[attempts_before])
        return Outcome("retrying", {**common, "next_attempt_at": now + pause})
    return Outcome("failed", {**common, "status": leases.FAILED})


async def list_endpoints(db: Database, site_key: str | None = None) -> list[Endpoint]:
    site_id = None if site_key is None else (await _site(db, site_key)).id
    return await db.read(lambda conn: store.list_endpoints(conn, site_id))


async def _site(db: Database, site_key: Any) -> Site:
    site = await sites.site_by_key(db, site_key)
    if site is None:
        raise NotFound(field="site")
    return site
