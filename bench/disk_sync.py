"""The disk's floor under a durable relay: how long one SQLite commit takes here.

    .venv/bin/python bench/disk_sync.py [--commits 2000] [--every-ms 1] [--dir DIR]

Commits one small row at a time (WAL, ``synchronous=FULL``: a disk sync per commit, as the
group-commit writer does per batch) and prints the latency percentiles, then the same with
``synchronous=NORMAL`` (no sync: what is left is SQLite's own work). A message at low load
waits for one such commit before it is acked and delivered, so Frontdesk's delivery p99 at
100 msg/s cannot go below this p99 on the same disk; a bare relay pays none of it.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def commits(path: Path, synchronous: str, count: int, every: float) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    took = []
    for n in range(count):
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (body) VALUES (?)", (f"message {n} " + "x" * 300,))
        conn.execute("COMMIT")
        took.append((time.perf_counter() - started) * 1000)
        time.sleep(every)
    conn.close()
    return took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--every-ms", type=float, default=1.0, help="Pause between commits (a moderate load).")
    parser.add_argument("--dir", default=None, help="Where the database goes (default: the temp directory, "
                                                     "where bench/relay.py's servers keep theirs).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="fd-disk-") as tmp:
        for synchronous in ("FULL", "NORMAL"):
            took = commits(Path(tmp) / f"{synchronous}.db", synchronous, args.commits, args.every_ms / 1000)
            print(f"synchronous={synchronous:6}  commit ms: p50 {statistics.median(took):.2f}  "
                  f"p90 {pct(took, 0.9):.2f}  p99 {pct(took, 0.99):.2f}  max {max(took):.2f}  ({len(took)} commits)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
