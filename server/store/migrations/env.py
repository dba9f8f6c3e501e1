"""Alembic environment: runs on the connection that server.store.migrate hands it."""

from __future__ import annotations

from alembic import context

from server.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `frontdesk migrate`, which provides the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
