"""Where a stored visitor message's time goes, in process (no sockets): a companion to relay.py.

    .venv/bin/python bench/writer_cost.py [--messages 400]

Calls ``chat.send_visitor_message`` through the real GroupWriter on a fresh SQLite file,
one at a time and 40 at once (so batches form), with synchronous FULL and OFF, and counts
SQL statements and commits. Then times one primary-key SELECT three ways: SQLAlchemy async
on aiosqlite (what the server uses), raw aiosqlite, and SQLAlchemy on the sync sqlite3
driver. Prints a small table; writes nothing outside a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def writer_cost(data_dir: str, synchronous: str, messages: int) -> list[str]:
    from sqlalchemy import event

    from server.cli import opened
    from server.config import Settings
    from server.services import chat, sites, visitors

    settings = Settings.from_env(data_dir=data_dir, log_level="warning", sqlite_synchronous=synchronous)
    lines = []
    async with opened(settings) as state:
        site = await sites.create_site(state.writer, "Bench", ["http://bench.test"])
        counts = {"statements": 0, "commits": 0}

        @event.listens_for(state.db.engine.sync_engine, "before_cursor_execute")
        def _statement(*_: object) -> None:
            counts["statements"] += 1

        @event.listens_for(state.db.engine.sync_engine, "commit")
        def _commit(*_: object) -> None:
            counts["commits"] += 1

        ids = [(await visitors.start_session(state.writer, state.signer, site, None)).visitor.id for _ in range(10)]

        async def send(i: int) -> None:
            await chat.send_visitor_message(state.writer, site.id, ids[i % 10], str(uuid.uuid4()), "hello bench")

        await asyncio.gather(*(send(i) for i in range(10)))  # conversations exist, caches warm
        for concurrency in (1, 40):
            counts.update(statements=0, commits=0)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(messages // concurrency):
                await asyncio.gather(*(send(i) for i in range(concurrency)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            n = messages // concurrency * concurrency
            lines.append(
                f"synchronous={synchronous:<4} concurrency {concurrency:>2}: {n / wall:>5.0f} msg/s, "
                f"{cpu / n * 1e3:.2f} ms CPU/msg, {counts['statements'] / n:.1f} statements/msg, "
                f"{counts['commits']} commits for {n} messages"
            )
    return lines


async def statement_cost(db_path: str, n: int = 3000) -> list[str]:
    import aiosqlite
    from sqlalchemy import create_engine, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from server.store.schema import conversations

    query = select(conversations).where(conversations.c.id == "x")
    lines = []
    engine = create_async_engine("sqlite+aiosqlite:///" + db_path)
    async with engine.connect() as conn:
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            (await conn.execute(query)).first()
        lines.append(f"SQLAlchemy async + aiosqlite, select by key: {(time.perf_counter() - t) / n * 1e6:4.0f} us wall, "
                     f"{(time.process_time() - c) / n * 1e6:4.0f} us CPU")
    await engine.dispose()
    async with aiosqlite.connect(db_path) as raw:
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            cursor = await raw.execute("SELECT * FROM conversations WHERE id = ?", ("x",))
            await cursor.fetchone()
            await cursor.close()
        lines.append(f"raw aiosqlite (execute, fetchone, close):      {(time.perf_counter() - t) / n * 1e6:4.0f} us wall, "
                     f"{(time.process_time() - c) / n * 1e6:4.0f} us CPU")
    sync_engine = create_engine("sqlite:///" + db_path)
    with sync_engine.connect() as sync_conn:
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            sync_conn.execute(query).first()
        lines.append(f"SQLAlchemy sync (sqlite3), select by key:      {(time.perf_counter() - t) / n * 1e6:4.0f} us wall, "
                     f"{(time.process_time() - c) / n * 1e6:4.0f} us CPU")
    sync_engine.dispose()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fd-writer-cost-") as tmp:
        for synchronous in ("FULL", "OFF"):
            for line in asyncio.run(writer_cost(f"{tmp}/{synchronous}", synchronous, args.messages)):
                print(line)
        for line in asyncio.run(statement_cost(f"{tmp}/FULL/frontdesk.db")):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
