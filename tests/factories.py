"""Make sites and operators through the services, in a running server's database."""

from __future__ import annotations

import itertools
import os
from typing import Any

from server.cli import opened
from server.config import Settings
from server.services import operators, sites, webhooks
from server.store import webhooks as webhook_store
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


async def make_operator(server: ServerProcess, *, name: str | None = None, password: str = PASSWORD) -> Operator:
    n = next(_numbers)
    async with opened(settings_for(server)) as state:
        return await operators.create_operator(
            state.writer, state.signer, f"olga{n}@example.com", password, name=name or f"Olga {n}"
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
