"""The message path's write cost on PostgreSQL: bulk (two statements a batch) vs Core.

    .venv/bin/python bench/pg_writer.py [--messages 3000] [--visitors 50] [--batch 100] [--repeat 3]
                                        [--no-core] [--pg-admin-url postgresql://postgres@127.0.0.1:5432/test]

A scratch database (dropped afterwards), one site and ``--visitors`` visitors with an
open conversation each; then ``--messages`` visitor messages through
``chat.queue_visitor_message`` in waves of ``--batch``, interleaved by round:

* **core**: every message on SQLAlchemy Core, seven statements each (the path before
  issue 20's PostgreSQL work, without its write-order lock);
* **bulk**: the writer's bulk path (``services/pg_chat.py``);
* **bulk, 2 writers**: two writers with a connection pool each (two nodes' writers, in
  one process), half the visitors each, committing in parallel.

Reports messages/s (wall), this process's CPU per message and the PostgreSQL backends'
CPU per message (from /proc, the backends of the scratch database). CPU per message
holds on a machine shared with other work; wall rates and ratios in one run are what
there is for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.services import chat, pg_chat  # noqa: E402
from server.store import migrate  # noqa: E402
from server.store.db import Database  # noqa: E402
from server.store.writer import GroupWriter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relay_writer import seed_conversations  # noqa: E402 - bench/relay_writer.py, next to this file

CLK_TCK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


async def backends(db: Database, name: str) -> list[int]:
    from sqlalchemy import text

    rows = await db.read(lambda conn: conn.execute(
        text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": name}).scalars().all())
    return list(rows)


async def one_run(mode: str, args: argparse.Namespace, url: str, name: str) -> dict[str, float]:
    setup = Database(url)
    writer = GroupWriter(setup, max_batch=256)
    writer.start()
    site, ids = await seed_conversations(writer, args.visitors)
    await writer.stop()
    await setup.close()
    count = 2 if mode == "bulk, 2 writers" else 1
    dbs = [Database(url) for _ in range(count)]
    writers = [GroupWriter(db, max_batch=256) for db in dbs]
    for w in writers:
        w.start()
    for w in writers:  # open the pools' connections before measuring
        await asyncio.gather(*(w.run(lambda tx: None) for _ in range(3)))
    original = pg_chat.in_bulk
    if mode == "core":
        pg_chat.in_bulk = lambda job, item: job  # type: ignore[assignment]
    try:
        pids = await backends(dbs[0], name)
        cpu0, pg0, wall0 = time.process_time(), backend_cpu(pids), time.perf_counter()
        sent = 0
        while sent < args.messages:
            wave = [
                chat.queue_visitor_message(writers[(i % len(ids)) % count], site.id, ids[(sent + i) % len(ids)],
                                           uuid.uuid4().hex, f"message {sent + i}")
                for i in range(args.batch)
            ]
            await asyncio.gather(*wave)
            sent += len(wave)
        wall = time.perf_counter() - wall0
        cpu, pg = time.process_time() - cpu0, backend_cpu(pids) - pg0
    finally:
        pg_chat.in_bulk = original  # type: ignore[assignment]
        for w in writers:
            await w.stop()
        for db in dbs:
            await db.close()
    result = {"rate": sent / wall, "cpu_us": cpu / sent * 1e6, "pg_us": pg / sent * 1e6}
    print(f"  {mode:16} {result['rate']:8,.0f} msg/s  {result['cpu_us']:6,.0f} µs CPU a message here, "
          f"{result['pg_us']:6,.0f} µs in PostgreSQL  (load {Path('/proc/loadavg').read_text().split()[0]})",
          flush=True)
    return result


async def scratch(admin: str, name: str, create: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin.replace("postgresql://", "postgres://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> int:
    modes = ["core", "bulk", "bulk, 2 writers"][1 if args.no_core else 0:]
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for round_no in range(1, args.repeat + 1):
        print(f"round {round_no}")
        for mode in modes:
            name = "fd_bench_pgw_" + uuid.uuid4().hex[:10]
            await scratch(args.pg_admin_url, name, True)
            url = args.pg_admin_url.rsplit("/", 1)[0] + "/" + name
            try:
                db = Database(url)
                await migrate.upgrade(db)
                await db.close()
                results[mode].append(await one_run(mode, args, url, name))
            finally:
                await scratch(args.pg_admin_url, name, False)
    print("medians (range):")
    for mode in modes:
        def med(key: str) -> str:
            values = sorted(r[key] for r in results[mode])
            return f"{statistics.median(values):,.0f} ({values[0]:,.0f}–{values[-1]:,.0f})"
        print(f"  {mode:16} {med('rate')} msg/s, {med('cpu_us')} µs CPU here, {med('pg_us')} µs in PostgreSQL")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-core", action="store_true", help="Leave out the (slow) Core path.")
    parser.add_argument("--pg-admin-url", default=os.environ.get("FRONTDESK_BENCH_PG_URL",
                                                                  "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
