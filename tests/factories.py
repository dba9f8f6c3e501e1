"""Make sites and operators through the services, in a running server's database."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from typing import Any, Callable

from sqlalchemy import insert

from server.cli import opened
from server.config import Settings
from server.services import events, operators, sites, webhooks
from server.store import schema
from server.store import conversations as conversation_store
from server.store import visitors as visitor_store
from server.store import webhooks as webhook_store
from server.store.db import iso, utcnow
from server.store.operators import Operator
from server.store.sites import Site
from server.store.webhooks import Endpoint
from tests.servers import ServerProcess

_numbers = itertools.count(1)
PASSWORD = "correct horse battery"


def settings_for(server: ServerProcess) -> Settings:
    return Settings.from_env({**os.environ, **server.env})


async def make_site(server: ServerProcess, *, origins: list[str] | None = None, **kwargs: Any) -> Site:
    n = next(_numbers)
    async with opened(settings_for(server)) as state:
        return await sites.create_site(
            state.writer, kwargs.pop("name", f"Aurora Coffee {n}"), origins or [f"http://shop{n}.test"], **kwargs
        )


async def make_operator(
    server: ServerProcess, *, name: str | None = None, password: str = PASSWORD, role: str = "admin",
    site_keys: list[str] | None = None,
) -> Operator:
    n = next(_numbers)
    async with opened(settings_for(server)) as state:
        return await operators.create_operator(
            state.writer, state.signer, f"olga{n}@example.com", password, name=name or f"Olga {n}", role=role,
            site_keys=site_keys,
        )


async def make_webhook(server: ServerProcess, site: Site, url: str, *, event_types: tuple[str, ...] = ()) -> Endpoint:
    settings = settings_for(server)
    async with opened(settings) as state:
        return await webhooks.create_endpoint(
            state.writer, state.db, site.key, url, event_types=event_types,
            allow_private=settings.webhook_allow_private_networks,
        )


async def deliveries_of(server: ServerProcess, endpoint: Endpoint) -> list[dict[str, Any]]:
    """The endpoint's delivery rows, as stored."""
    async with opened(settings_for(server)) as state:
        return await state.db.read(lambda conn: webhook_store.list_deliveries(conn, endpoint.id))


async def deliveries_when(
    server: ServerProcess, endpoint: Endpoint, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The endpoint's delivery rows once ``done(rows)``; the last ones seen if that never came.
    A receiver answers before the sender records its answer: a test that saw the request
    waits for the row."""
    deadline = time.monotonic() + timeout
    rows = await deliveries_of(server, endpoint)
    while not done(rows) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rows = await deliveries_of(server, endpoint)
    return rows


async def seed_conversation(settings: Settings, site_key: str, count: int, *, text: str = "Seeded message") -> tuple[str, str]:
    """A visitor whose conversation has ``count`` messages ("<text> 1" …) and their events,
    bulk-inserted in one transaction by a process of its own: what a console or widget that
    was away has missed (nobody connected hears them live). Returns (visitor token,
    conversation id)."""
    async with opened(settings) as state:
        site = await sites.site_by_key(state.db, site_key)
        assert site is not None
        visitor_id, conversation_id = uuid.uuid4().hex, uuid.uuid4().hex

        def job(tx: Any) -> None:
            conn, now = tx.conn, utcnow()
            visitor_store.insert_visitor(conn, id=visitor_id, site_id=site.id)
            conversation_store.insert_conversation(conn, id=conversation_id, site_id=site.id, visitor_id=visitor_id)
            first = conversation_store.get_summary(conn, conversation_id)
            conversation_store.update_conversation(
                conn, conversation_id, last_seq=count, last_message_at=now, last_message_preview=f"{text} {count}",
                unread_count=count,
            )
            rows = [
                {"conversation_id": conversation_id, "seq": i, "client_id": f"seeded-{i:08d}", "author_kind": "visitor",
                 "author_id": visitor_id, "author_name": None, "body": f"{text} {i}", "created_at": now}
                for i in range(1, count + 1)
            ]
            conn.execute(insert(schema.messages), rows)
            summary = conversation_store.get_summary(conn, conversation_id)
            assert first is not None and summary is not None

            def event(type: str, payload: dict[str, Any]) -> dict[str, Any]:
                return {"type": type, "site_id": site.id, "conversation_id": conversation_id, "created_at": now,
                        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))}

            conn.execute(insert(schema.events), [event(events.CONVERSATION_CREATED, {"conversation": first})] + [
                event(events.MESSAGE_CREATED, {
                    "conversation_id": conversation_id,
                    "message": {"seq": r["seq"], "client_id": r["client_id"], "author": {"kind": "visitor", "name": None},
                                "body": r["body"], "created_at": iso(now)},
                    "conversation": {**summary, "last_seq": r["seq"], "last_message_preview": r["body"],
                                     "unread_count": r["seq"]},
                })
                for r in rows
            ])

        await state.writer.run(job)
        return state.signer.visitor_token(visitor_id, site.id), conversation_id
