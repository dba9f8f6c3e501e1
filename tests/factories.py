"""Make sites and operators through the services, in a running server's database."""

from __future__ import annotations

import itertools
import os
from typing import Any

from server.cli import opened
from server.config import Settings
from server.services import operators, sites
from server.store.operators import Operator
from server.store.sites import Site
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
