"""What every command shares: one-line errors and an opened, migrated database."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from ..config import Settings


class CliError(Exception):
    """Something the user can fix, said in one line (exit status 1)."""


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Any]:
    """Migrated database and a running writer, for commands that change data."""
    from ..state import AppState

    await upgrade(settings)
    state = await AppState.open(settings)
    try:
        yield state
    finally:
        await state.close()


async def upgrade(settings: Settings) -> str:
    """Migrate; a database that cannot be reached or written is one line naming it."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..state import open_database
    from ..store import migrate

    try:
        db = open_database(settings)
        try:
            return await migrate.upgrade(db)
        finally:
            await db.close()
    except (OSError, SQLAlchemyError) as exc:
        raise CliError(f"cannot use the database {_database_label(settings)}: {reason(exc)}") from None


def _database_label(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    if settings.database_url:
        return make_url(settings.database_url).render_as_string(hide_password=True) + " (--database-url)"
    return f"in {settings.data_dir} (--data-dir)"


def reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if isinstance(cause, OSError) and cause.strerror:
        return f"{cause.filename}: {cause.strerror}" if cause.filename else cause.strerror
    text = " ".join(str(cause).split()) or type(cause).__name__
    return text[:300]


async def migrate(settings: Settings) -> None:
    print(f"database schema at revision {await upgrade(settings)}")




def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
