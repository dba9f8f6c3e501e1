"""Server CPU per acked message, from bench/relay.py's result files.

    .venv/bin/python bench/relay_cpu.py bench/results/relay-<timestamp>.json [...]

On a machine busy with other work the relay's throughput says more about the scheduler
than about the code, while CPU time per message holds (docs/benchmarks.md): this reads
each run's server CPU (% of one core over the measured seconds) and acked msg/s and
prints µs of server CPU per acked message, per target and load, with the median and
range over rounds, and Frontdesk's figure divided by the bare relay's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def per_message_us(run: dict) -> float | None:
    cpu = (run.get("cpu_pct_of_one_core") or {}).get("server")
    acked = run.get("acked_per_s")
    if not cpu or not acked:
        return None
    return cpu / 100 / acked * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    for path in args.results:
        data = json.loads(path.read_text())
        figures: dict[tuple[str, str], list[float]] = defaultdict(list)
        for run in data["runs"]:
            value = per_message_us(run)
            if value is not None:
                figures[(run["mode"], run["target"])].append(value)
        print(f"{path.name}: server CPU per acked message, µs (median, range over rounds)")
        for mode in dict.fromkeys(m for m, _ in figures):
            cells = []
            medians = {}
            for (m, target), values in figures.items():
                if m != mode:
                    continue
                medians[target] = statistics.median(values)
                cells.append(f"{target} {medians[target]:,.0f} ({min(values):,.0f}–{max(values):,.0f})")
            ratio = ""
            if "bare" in medians and "frontdesk" in medians:
                ratio = f" = {medians['frontdesk'] / medians['bare']:.1f}x bare"
            print(f"  {mode:>9}: " + "; ".join(cells) + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
