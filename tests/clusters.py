"""Several Frontdesk nodes on one PostgreSQL and one Redis (the ``cluster`` fixture)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from tests.receivers import WEBHOOK_ENV
from tests.servers import REDIS_URL, ServerProcess

if TYPE_CHECKING:
    from tests.conftest import Backend


class Cluster:
    def __init__(self, backend: "Backend", tmp: Path) -> None:
        self.backend = backend
        self.env = {
            **backend.env(),
            "FRONTDESK_REDIS_URL": REDIS_URL,
            "FRONTDESK_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:10]}:",
            **WEBHOOK_ENV,
        }
        self.tmp = tmp
        self.nodes: list[ServerProcess] = []

    def add_node(self) -> ServerProcess:
        node = ServerProcess(env=self.env, log_path=self.tmp / f"node{len(self.nodes)}.log").start()
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
