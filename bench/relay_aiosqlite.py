"""Should the SQLite hot path run on aiosqlite? One batch of chat messages, three ways.

    .venv/bin/pip install aiosqlite   # not a dependency of Frontdesk
    .venv/bin/python bench/relay_aiosqlite.py [--batches 300] [--sizes 1,4,40] [--repeat 3]

The writer's batch path (services/chat_batch.py) runs the same statements for any
number of messages: the conversations read, the re-sends read, ``executemany`` of the
messages, of the conversation updates and of the events, ``last_insert_rowid()``, then
COMMIT (synchronous=FULL, WAL). This replays exactly those statements with prepared
rows, on the real schema, and times a batch (CPU of the process, all threads, and wall):

* **to_thread** (what the writer does): the whole transaction is one function run by
  ``asyncio.to_thread`` on a stdlib ``sqlite3`` connection: one hand-off a batch.
* **aiosqlite**: the same statements awaited one by one on an ``aiosqlite`` connection
  (its public API): a hand-off to its thread and back for each statement and the commit.
* **aiosqlite, one call**: the transaction as one function on aiosqlite's thread (its
  private ``_execute``): what aiosqlite could at best offer, i.e. ``to_thread`` again.

Row building and JSON are the same in every variant and left out. On uvloop, as served.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.store import message_batch, migrate  # noqa: E402
from server.store.conversations import _RAW_AFTER_MESSAGE, _RAW_INSERT_MESSAGE, sqlite_time  # noqa: E402
from server.store.db import Database, utcnow  # noqa: E402
from server.store.outbox import _RAW_INSERT  # noqa: E402

CONVERSATIONS = 50


def setup(path: Path) -> list[tuple[str, str]]:
    """The schema (migrations), a site, and visitors with a conversation each."""
    async def migrate_it() -> None:
        db = Database(f"sqlite:///{path}")
        await migrate.upgrade(db)
        await db.close()

    asyncio.run(migrate_it())
    conn = sqlite3.connect(path)
    now = sqlite_time(utcnow())
    conn.execute("INSERT INTO sites (key, name, allowed_origins, color, position, created_at) "
                 "VALUES ('k', 'Bench', '[]', '#000000', 'right', ?)", (now,))
    pairs = []
    for _ in range(CONVERSATIONS):
        visitor, conversation = uuid.uuid4().hex, uuid.uuid4().hex
        conn.execute("INSERT INTO visitors (id, site_id, first_seen_at, last_seen_at) VALUES (?, 1, ?, ?)",
                     (visitor, now, now))
        conn.execute("INSERT INTO conversations (id, site_id, visitor_id, status, created_at, unread_count, last_seq) "
                     "VALUES (?, 1, ?, 'open', ?, 0, 0)", (conversation, visitor, now))
        pairs.append((visitor, conversation))
    conn.commit()
    conn.close()
    return pairs


class Batches:
    """Each batch's statements and parameters, as the batch path issues them."""

    def __init__(self, pairs: list[tuple[str, str]], size: int, seq: dict[str, int]) -> None:
        self.pairs, self.size, self.seq = pairs, size, seq  # seq: shared by every size
        self.n = 0

    def next(self) -> list[tuple[str, str, Any]]:
        take = [self.pairs[(self.n + i) % len(self.pairs)] for i in range(self.size)]
        self.n += self.size
        now = sqlite_time(utcnow())
        messages, updates, events = [], {}, []
        for visitor, conversation in take:
            self.seq[conversation] += 1
            seq = self.seq[conversation]
            client = uuid.uuid4().hex
            messages.append((conversation, seq, client, "visitor", visitor, None, f"message {seq}", now))
            updates[conversation] = (seq, now, f"message {seq}", seq, conversation)
            events.append(("message.created", 1, conversation, '{"x":1}', now))
        return [
            ("one", message_batch._LATEST_OF, (json.dumps([v for v, _ in take]),)),
            ("one", message_batch._EXISTING, (json.dumps([[m[0], m[2]] for m in messages]),)),
            ("many", _RAW_INSERT_MESSAGE, messages),
            ("many", _RAW_AFTER_MESSAGE, list(updates.values())),
            ("many", _RAW_INSERT, events),
            ("one", "SELECT last_insert_rowid()", ()),
        ]


def run_sync(conn: sqlite3.Connection, statements: list[tuple[str, str, Any]]) -> None:
    conn.execute("BEGIN")
    for kind, sql, params in statements:
        if kind == "many":
            conn.executemany(sql, params)
        else:
            conn.execute(sql, params).fetchall()
    conn.execute("COMMIT")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


async def variant(name: str, path: Path, batches: Batches, count: int) -> tuple[float, float]:
    work = [batches.next() for _ in range(count)]
    if name == "to_thread":
        conn = connect(path)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for statements in work:
            await asyncio.to_thread(run_sync, conn, statements)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        conn.close()
        return cpu / count * 1e6, wall / count * 1e6
    import aiosqlite
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000"):
        await db.execute(f"PRAGMA {pragma}")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for statements in work:
        if name == "aiosqlite":
            await db.execute("BEGIN")
            for kind, sql, params in statements:
                if kind == "many":
                    await db.executemany(sql, params)
                else:
                    cursor = await db.execute(sql, params)
                    await cursor.fetchall()
            await db.execute("COMMIT")
        else:  # one call on aiosqlite's thread
            await db._execute(run_sync, db._conn, statements)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await db.close()
    return cpu / count * 1e6, wall / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="Batches timed per variant and size.")
    parser.add_argument("--sizes", default="1,4,40", help="Messages a batch, comma-separated.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import aiosqlite
    except ImportError:
        print("needs aiosqlite: .venv/bin/pip install aiosqlite", file=sys.stderr)
        return 2
    print(f"aiosqlite {aiosqlite.__version__}, SQLite {sqlite3.sqlite_version}")
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    names = ["to_thread", "aiosqlite", "aiosqlite-one-call"]
    results: dict[tuple[int, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="fd-bench-aiosqlite-") as tmp:
        path = Path(tmp) / "bench.db"
        pairs = setup(path)
        sizes = [int(s) for s in args.sizes.split(",")]
        seq = {c: 0 for _, c in pairs}
        batches = {size: Batches(pairs, size, seq) for size in sizes}
        for round_no in range(1, args.repeat + 1):
            for size in sizes:
                for name in names:  # interleaved: the machine's load hits each alike
                    cpu, wall = runner(variant(name, path, batches[size], args.batches))
                    results.setdefault((size, name), []).append((cpu, wall))
                    print(f"round {round_no}: batch of {size}, {name}: {cpu:,.0f} µs CPU, {wall:,.0f} µs wall a batch",
                          flush=True)
    print("\nmedians over rounds (range), a batch:")
    for (size, name), rs in results.items():
        cpus, walls = [r[0] for r in rs], [r[1] for r in rs]
        print(f"  {size:>3} messages, {name:<18}: {statistics.median(cpus):7,.0f} µs CPU "
              f"({min(cpus):,.0f}–{max(cpus):,.0f}), {statistics.median(walls):7,.0f} µs wall "
              f"({min(walls):,.0f}–{max(walls):,.0f}); CPU a message {statistics.median(cpus) / size:,.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
