"""The group-commit writer at a fixed rate: batch size, CPU and ack latency, with and
without holding a lone job for company (GroupWriter's ``hold``).

    .venv/bin/python bench/relay_writer_rate.py [--rates 100,1000] [--holds 0,1] [--seconds 5] [--repeat 3]
                                                [--synchronous FULL]

In one process, on uvloop as served: a temporary SQLite database (synchronous=FULL),
``--visitors`` visitors with an open conversation each, then visitor messages through
``chat.queue_visitor_message`` at each rate in total (open loop, round robin over the
visitors) for ``--seconds``, once per hold in ms, interleaved and repeated ``--repeat``
times. Reports, per rate and hold: messages per commit, this process's CPU per message
(user + system, all threads) and the ack latency (queued → committed) p50 and p99 —
what the writer adds to a message's delivery, without sockets.
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

from server.services import chat  # noqa: E402
from server.store import migrate  # noqa: E402
from server.store.db import Database  # noqa: E402
from server.store.writer import GroupWriter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relay_writer import seed_conversations  # noqa: E402 - bench/relay_writer.py, next to this file


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_run(args: argparse.Namespace, tmp: Path, rate: float, hold_ms: float) -> dict[str, float]:
    db = Database(f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}", sqlite_synchronous=args.synchronous)
    await migrate.upgrade(db)
    writer = GroupWriter(db, max_batch=256, hold=hold_ms / 1000)
    writer.start()
    site, ids = await seed_conversations(writer, args.visitors)

    latencies: list[float] = []
    pending: list[asyncio.Future[chat.Ack]] = []
    interval = 1 / rate
    total = int(rate * args.seconds)
    batches0, held0 = writer.batches, writer.held
    cpu0 = time.process_time()
    start = next_at = time.perf_counter()
    for n in range(total):
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at = time.perf_counter()
        future = chat.queue_visitor_message(writer, site.id, ids[n % len(ids)], uuid.uuid4().hex, f"message {n}")
        future.add_done_callback(lambda _f, t=sent_at: latencies.append(time.perf_counter() - t))
        pending.append(future)
        next_at += interval
    await asyncio.gather(*pending)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    batches, held = writer.batches - batches0, writer.held - held0
    await writer.stop()
    await db.close()
    return {
        "achieved": total / wall, "per_batch": total / batches, "held": held / batches, "cpu_us": cpu / total * 1e6,
        "p50_ms": percentile(latencies, 0.5) * 1e3, "p99_ms": percentile(latencies, 0.99) * 1e3,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,1000", help="Messages per second in total, comma-separated.")
    parser.add_argument("--holds", default="0,1", help="GroupWriter hold in ms, comma-separated.")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL",
                        help="SQLite synchronous pragma (OFF: commits as fast as a quick disk's, to see the hold act).")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    holds = [float(h) for h in args.holds.split(",")]
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    results: dict[tuple[float, float], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="fd-bench-writer-rate-") as tmp:
        for round_no in range(1, args.repeat + 1):
            for rate in rates:
                for hold in holds:
                    r = runner(one_run(args, Path(tmp), rate, hold))
                    results.setdefault((rate, hold), []).append(r)
                    print(f"round {round_no}: {rate:,.0f} msg/s, hold {hold:g} ms: {r['achieved']:,.0f} msg/s, "
                          f"{r['per_batch']:.2f} a commit ({r['held']:.0%} held), {r['cpu_us']:,.0f} µs CPU a message, "
                          f"ack p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms", flush=True)
    print("\nmedians over rounds (range):")
    for (rate, hold), rs in results.items():
        def fmt(key: str, spec: str) -> str:
            values = [r[key] for r in rs]
            return f"{statistics.median(values):{spec}} ({min(values):{spec}}–{max(values):{spec}})"
        print(f"  {rate:>6,.0f} msg/s, hold {hold:g} ms: {fmt('per_batch', '.2f')} a commit; "
              f"{fmt('cpu_us', ',.0f')} µs CPU a message; ack p50 {fmt('p50_ms', '.2f')} ms; "
              f"p99 {fmt('p99_ms', '.2f')} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
