"""The message path's write cost alone: CPU per chat message through the group-commit writer.

    .venv/bin/python bench/relay_writer.py [--messages 4000] [--visitors 50] [--batch 40] [--repeat 3]
        [--search-index on|off|both]

Builds a temporary SQLite database (synchronous=FULL), one site and ``--visitors``
visitors with an open conversation each, then sends ``--messages`` visitor messages
through ``chat.queue_visitor_message`` in waves of ``--batch`` (so the writer commits
batches of about that size, as at saturation) and reports this process's CPU time per
message (user + system, all threads) and, in a shorter traced run, the statements per
batch SQLite ran (each row of an ``executemany`` counts as one). CPU time,
not wall time: it holds on a machine shared with other work, where throughput does not.
``--search-index off`` drops migration 0016's triggers on messages after migrating, as
before search existed; ``both`` alternates the two in one run, for the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from server.services import chat, sites, visitors  # noqa: E402
from server.security import Signer  # noqa: E402
from server.store import migrate  # noqa: E402
from server.store.db import Database  # noqa: E402
from server.store.sites import Site  # noqa: E402
from server.store.writer import GroupWriter  # noqa: E402


async def seed_conversations(writer: GroupWriter, count: int) -> tuple[Site, list[str]]:
    """A site and ``count`` visitors, each with an open conversation (a first message), so
    what is measured next is the message path into an existing conversation."""
    site = await sites.create_site(writer, "Bench", ["http://bench.test"])
    signer = Signer("bench-secret-" + "x" * 40, visitor_token_days=1)
    ids = []
    for _ in range(count):
        session = await visitors.start_session(writer, signer, site, None)
        ids.append(session.visitor.id)
        await chat.queue_visitor_message(writer, site.id, session.visitor.id, uuid.uuid4().hex, "first")
    return site, ids


async def one_run(args: argparse.Namespace, tmp: Path, search_index: bool = True) -> tuple[float, float]:
    db = Database(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}")
    await migrate.upgrade(db)
    if not search_index:
        from sqlalchemy import text

        def drop(conn) -> None:  # type: ignore[no-untyped-def]
            for name in ("search_messages_insert", "search_messages_delete", "search_messages_update"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))

        await db.connection(drop)
    writer = GroupWriter(db, max_batch=256)
    writer.start()
    site, ids = await seed_conversations(writer, args.visitors)

    def frames(count: int) -> list[tuple[str, str, str]]:
        """The senders' part, made before the clock starts: client ids (uuid4 costs a
        syscall each) and bodies."""
        return [(ids[n % len(ids)], uuid.uuid4().hex, f"message {n}") for n in range(count)]

    async def waves(frames: list[tuple[str, str, str]]) -> int:
        sent = 0
        while sent < len(frames):
            wave = [
                chat.queue_visitor_message(writer, site.id, visitor_id, client_id, body)
                for visitor_id, client_id, body in frames[sent:sent + args.batch]
            ]
            await asyncio.gather(*wave)
            sent += len(wave)
        return sent

    timed = frames(args.messages)
    batches_before = writer.batches
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sent = await waves(timed)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    batches = writer.batches - batches_before

    # Statements, counted apart (a trace callback per statement would weigh on the CPU
    # figure): SQLite's trace sees each executemany row as one statement run.
    assert db.sync_engine is not None
    db.sync_engine.dispose()  # new connections get the statement trace
    for_trace: list[str] = []

    @event.listens_for(db.sync_engine, "connect")
    def _trace(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.set_trace_callback(for_trace.append)

    traced_before = writer.batches
    await waves(frames(args.batch * 10))
    statements = sum(1 for s in for_trace if not s.startswith(("BEGIN", "COMMIT", "PRAGMA")))
    per_batch = statements / (writer.batches - traced_before)
    await writer.stop()
    await db.close()
    print(f"  {sent} messages in {batches} batches: {cpu / sent * 1e6:,.0f} µs CPU a message, "
          f"{sent / wall:,.0f} msg/s wall, {per_batch:.1f} statements a batch")
    return cpu / sent * 1e6, per_batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--search-index", choices=["on", "off", "both"], default="on")
    args = parser.parse_args()
    variants = {"on": [True], "off": [False], "both": [False, True]}[args.search_index]
    results: dict[bool, list[tuple[float, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="fd-bench-writer-") as tmp:
        for _ in range(args.repeat):
            for variant in variants:  # interleaved: the machine's load drifts alike for both
                print(f" search index {'on' if variant else 'off'}:")
                results[variant].append(asyncio.run(one_run(args, Path(tmp), variant)))
    for variant, runs in results.items():
        cpus = sorted(r[0] for r in runs)
        print(f"search index {'on' if variant else 'off'}: median {statistics.median(cpus):,.0f} µs CPU a message "
              f"(range {cpus[0]:,.0f}–{cpus[-1]:,.0f}), {runs[0][1]:.1f} statements a batch of {args.batch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
