"""Relay benchmark: Frontdesk (durable, SQLite) against a bare `websockets` relay.

    .venv/bin/python bench/relay.py [--visitors 50] [--operators 5] [--seconds 10]
                                    [--rate 0] [--fixed-rate 100,1000] [--repeat 1]
                                    [--page-views-every N] [--durable-bare] [--spine-bare]

One invocation, 127.0.0.1 only, every loop bounded:

* the **bare relay** (bench/relay_bare.py) persists nothing: a visitor's
  ``message.send`` gets an ``ack`` and is fanned out as ``message.created`` to every
  operator socket (same frame shapes as Frontdesk);
* **Frontdesk** is ``frontdesk serve`` on a fresh temporary data dir (SQLite, default
  durable settings: each message committed before its ack);
* with ``--durable-bare``, the **bare relay storing each message** as a row of a SQLite
  file (WAL, ``synchronous=FULL``) before it relays it: the floor any persist-then-relay
  has on this disk, to tell the disk's share of Frontdesk's latency from its own; with
  ``--spine-bare``, the same relay storing **what Frontdesk stores** for a message (the
  message row, its event, the conversation's update): that floor with Frontdesk's pages;
* the **load generator** (bench/relay_load.py) is a separate process holding all
  visitor and operator sockets, so send, ack and first-operator-receipt times come from
  one clock.

Each target is run saturated (a window of un-acked messages per visitor, or ``--rate``
msg/s in total) and then both at each ``--fixed-rate`` msg/s in total (open loop, at
most 4x the window outstanding per visitor): at a load a target sustains, latency is
not queueing; at one it does not, acked msg/s stays below the offered rate. Rounds are interleaved (bare, Frontdesk, bare@rate,
Frontdesk@rate, ...). ``--page-views-every N`` adds Frontdesk with each visitor also sending
a ``page.viewed`` frame after every N-th message (leads' journey, docs/leads.md). The table goes to stdout, a JSON result to
bench/results/relay-<timestamp>.json.

    .venv/bin/python bench/relay.py --scale-out [--repeat 2] [--no-bare]

``--scale-out`` runs the same generator against the bare relay, Frontdesk on SQLite (one
node), Frontdesk on PostgreSQL + Redis (one node) and on two nodes sharing one
PostgreSQL database and one Redis: visitor i and operator j connect to node i % 2 and
j % 2, so a message reaches operators on both nodes through Redis. Each PostgreSQL run
gets a scratch database (CREATE DATABASE through ``--pg-admin-url``; ``frontdesk
migrate``, the site and the operators made with the CLI; dropped afterwards) and its own
Redis key prefix (its keys deleted afterwards). Loads: window 4, then 100, 300 and 1000
msg/s. Besides the figures above it reports delivery to the first operator on the other
node, to the last operator, which node pairs lost deliveries, duplicates, the writers'
batches (from /metrics), and the CPU of the nodes, PostgreSQL and Redis. Result:
bench/results/relay-scale-out-<timestamp>.json.

Both modes end with each figure (acked msg/s, delivery and ack p99, server CPU a message)
per load and target: the median over ``--repeat`` rounds with its spread, and its ratio to
the bare relay and to SQLite on one node taken within each round. The parts read on their
own: bench/relay_load.py (the generator), bench/relay_bare.py (the bare relay),
bench/relay_targets.py (setting up and running each target), bench/relay_report.py (the
tables and figures), bench/relay_proc.py (ports, CPU counters, processes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import relay_bare
import relay_load
from relay_load import SITE_ORIGIN, run_generator
from relay_proc import (
    _LIVE, RESULTS, ROOT, free_port, now_iso, percentile, start_process, stop_tracked, wait_for_http, wait_for_port,
)
from relay_report import (
    display_path, figures, fmt, print_columns, print_figures, print_scale_summary, print_scale_table, print_summary,
    print_table, print_warnings, summarize, summarize_scale,
)
from relay_targets import (
    TARGET_LABELS, check_services, cleanup_all, create_scratch_database, drop_scratch_database,
    frontdesk_bin, frontdesk_env, make_template, pg_url, redis_delete_prefix, run_target, setup_database,
)

# Used by bench/webhooks.py through `import relay` (kept for it).
__all__ = ["_LIVE", "RESULTS", "ROOT", "SITE_ORIGIN", "check_services", "create_scratch_database",
           "drop_scratch_database", "fmt", "free_port", "frontdesk_bin", "frontdesk_env", "make_template", "now_iso",
           "percentile", "pg_url", "print_columns", "redis_delete_prefix", "run_generator", "setup_database",
           "start_process", "stop_tracked", "wait_for_http", "wait_for_port", "main"]


def main_bench(args: argparse.Namespace) -> int:
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    plan: list[tuple[str, float]] = [("bare", args.rate), ("frontdesk", args.rate)]
    if args.durable_bare:
        plan.append(("bare-durable", args.rate))
    if args.spine_bare:
        plan.append(("bare-spine", args.rate))
    if args.sync_off_control:
        plan.append(("frontdesk-sync-off", args.rate))
    if args.page_views_every:
        plan.append(("frontdesk-pages", args.rate))
    if args.hold_control is not None:
        args.control.append(f"commit_hold_ms={args.hold_control:g}")
    if args.control:
        plan.append(("frontdesk-control", args.rate))
    if args.rate <= 0:
        for fixed in fixed_rates(args, "100,1000"):
            plan += [("bare", fixed), ("frontdesk", fixed)]
            if args.durable_bare:
                plan.append(("bare-durable", fixed))
            if args.spine_bare:
                plan.append(("bare-spine", fixed))
            if args.control:
                plan.append(("frontdesk-control", fixed))
            if args.page_views_every:
                plan.append(("frontdesk-pages", fixed))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp_name:
        tmp = Path(tmp_name)
        template = make_template(tmp, args.operators)
        n = 0
        for round_no in range(1, args.repeat + 1):
            for target, rate in plan:
                n += 1
                load = f"{rate:g} msg/s" if rate > 0 else f"window {args.window}/visitor"
                print(f"[{time.monotonic() - started:5.1f}s] round {round_no}: {target}, {load} ...", flush=True)
                result = run_target(target, args, rate, tmp, None if target.startswith("bare") else template, n)
                result["round"] = round_no
                runs.append(result)
                cpu = result["cpu_pct_of_one_core"]
                print(f"         {fmt(result['acked_per_s'], 0)} msg/s acked, delivery p99 "
                      f"{fmt(result['delivery_ms']['p99'], 2)} ms, errors {result['error_count']}"
                      f" {result['errors'] or ''}, unfinished {result['unfinished_count']}, skipped sends "
                      f"{result['skipped_sends']}, CPU gen {fmt(cpu['generator'], 0)}% srv {fmt(cpu['server'], 0)}%"
                      + (f", stored {result['stored_rows']}" if "stored_rows" in result else ""), flush=True)
                if result.get("server_log_tail"):
                    print("         server log: " + result["server_log_tail"][-500:].replace("\n", "\n         "))
    print()
    print_table(runs)
    print_warnings(runs)
    summary = summarize(runs)
    print_summary(summary)
    per_figure = figures(runs, list(dict.fromkeys(target for target, _ in plan)))
    print_figures(per_figure)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"relay-{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join([display_path(Path(sys.executable)), "bench/relay.py", *sys.argv[1:]]),
        "started": now_iso(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("generate", "out", "serve_bare", "port")},
        "runs": runs, "summary": summary, "figures": per_figure, "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2))
    print(f"\nresult: {out.relative_to(ROOT)}  ({time.monotonic() - started:.0f}s)")
    return 0


def fixed_rates(args: argparse.Namespace, default: str) -> list[float]:
    spec = default if args.fixed_rate is None else args.fixed_rate
    return [float(x) for x in str(spec).split(",") if x.strip() and float(x) > 0]


def code_state() -> dict[str, Any]:
    """The commit and a fingerprint of server/ as it is on disk: a run must not span a code change."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "server").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        head = None
    return {"head": head, "server_sha256": digest.hexdigest()[:16]}


def main_scale_out(args: argparse.Namespace) -> int:
    """SQLite on one node vs PostgreSQL + Redis on one and on two nodes (and the bare relay)."""
    started = time.monotonic()
    check_services(args)
    code_before = code_state()
    RESULTS.mkdir(parents=True, exist_ok=True)
    targets = ([] if args.no_bare else ["bare"]) + ["frontdesk", "pg-redis-1"] \
        + (["pg-redis-1-control"] if args.control else []) + ["pg-redis-2"]
    rates = [args.rate] + ([] if args.rate > 0 else fixed_rates(args, "100,300,1000"))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fd-bench-") as tmp_name:
        tmp = Path(tmp_name)
        template = make_template(tmp, args.operators)
        n = 0
        for round_no in range(1, args.repeat + 1):
            for rate in rates:
                for target in targets:
                    n += 1
                    mode = f"{rate:g}/s" if rate > 0 else f"window {args.window}"
                    print(f"[{time.monotonic() - started:5.1f}s] round {round_no}: {TARGET_LABELS[target]}, "
                          f"{mode} ...", flush=True)
                    failures: list[str] = []
                    result = None
                    for attempt in range(2):  # one retry: a failed setup should not leave a hole
                        try:
                            result = run_target(target, args, rate, tmp,
                                                template if target == "frontdesk" else None, n)
                            break
                        except Exception as exc:  # noqa: BLE001 - reported; the rest goes on
                            failures.append(f"{type(exc).__name__}: {exc}")
                            print(f"         FAILED (attempt {attempt + 1}): {failures[-1]}", flush=True)
                    if result is None:
                        runs.append({"round": round_no, "target": target, "mode": mode, "rate": rate,
                                     "failed": failures[-1], "failed_attempts": failures})
                        continue
                    if failures:
                        result["failed_attempts"] = failures
                    result["round"] = round_no
                    runs.append(result)
                    cpu = result["cpu_pct_of_one_core"]
                    print(f"         {fmt(result['acked_per_s'], 0)} msg/s acked, delivery p99 "
                          f"{fmt(result['delivery_ms']['p99'], 2)} ms, errors {result['error_count']}"
                          f" {result['errors'] or ''}, unfinished {result['unfinished_count']}"
                          f" {result['missing_deliveries_by_route'] or ''}, skipped sends {result['skipped_sends']},"
                          f" CPU gen {fmt(cpu['generator'], 0)}% nodes {fmt(cpu['server'], 0)}% pg "
                          f"{fmt(cpu['postgres'], 0)}% redis {fmt(cpu['redis'], 0)}%"
                          + (f", stored {result['stored_rows']}" if "stored_rows" in result else "")
                          + "".join(f", node{k} commits {w['commits_per_s']}/s x {w['writes_per_commit']}"
                                    for k, w in enumerate(result.get("writer_per_node") or [])), flush=True)
                    if result.get("server_log_tail"):
                        print("         server log: "
                              + result["server_log_tail"][-800:].replace("\n", "\n         "))
    code_after = code_state()
    print()
    print_scale_table(runs)
    print_warnings([r for r in runs if "failed" not in r])
    code_changed = code_after["server_sha256"] != code_before["server_sha256"]
    if code_changed:
        print(f"WARNING: server/ changed on disk during the run ({code_before} -> {code_after}): "
              "runs before and after the change are not comparable")
    summary = summarize_scale(runs, targets)
    print_scale_summary(summary)
    per_figure = figures(runs, targets)
    print_figures(per_figure)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"relay-scale-out-{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join([display_path(Path(sys.executable)), "bench/relay.py", *sys.argv[1:]]),
        "started": now_iso(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("generate", "out", "serve_bare", "port")},
        "code": {"before": code_before, "after": code_after},
        "runs": runs, "summary": summary, "figures": per_figure, "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2))
    print(f"\nresult: {out.relative_to(ROOT)}  ({time.monotonic() - started:.0f}s)")
    return 1 if any("failed" in r for r in runs) or code_changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--operators", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per run (after warm-up).")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=0,
                        help="Total msg/s for the main runs; 0: saturate with --window un-acked per visitor.")
    parser.add_argument("--window", type=int, default=4, help="Un-acked messages per visitor when saturating.")
    parser.add_argument("--fixed-rate", default=None,
                        help="Also run the targets at these total msg/s, comma-separated (0: skip; "
                             "ignored with --rate). Default: 100,1000; with --scale-out 100,300,1000.")
    parser.add_argument("--repeat", type=int, default=1, help="Interleaved rounds.")
    parser.add_argument("--durable-bare", action="store_true",
                        help="Also run the bare relay storing each message in SQLite (WAL, synchronous=FULL; "
                             "the messages of a loop turn in one commit) before it relays it: the floor a "
                             "persist-then-relay has on this disk.")
    parser.add_argument("--spine-bare", action="store_true",
                        help="Also run the bare relay storing what Frontdesk stores for a message (the message "
                             "row, its event, the conversation's update) in the same way: the floor with "
                             "Frontdesk's rows and none of its Python.")
    parser.add_argument("--sync-off-control", action="store_true",
                        help="Also run Frontdesk with FRONTDESK_SQLITE_SYNCHRONOUS=OFF (not durable across power "
                             "loss), to see what the disk sync costs.")
    parser.add_argument("--hold-control", type=float, default=None, metavar="MS",
                        help="Also run Frontdesk with FRONTDESK_COMMIT_HOLD_MS=MS (how long a lone write waits "
                             "for company at moderate load), at every load: --control commit_hold_ms=MS.")
    parser.add_argument("--control", action="append", default=[], metavar="SETTING=VALUE",
                        help="Also run Frontdesk with this setting (e.g. commit_on_loop_ms=0 for FRONTDESK_COMMIT_"
                             "ON_LOOP_MS=0), at every load; repeat for several settings in the one control run. "
                             "With --scale-out: one more PostgreSQL + Redis node with them.")
    parser.add_argument("--page-views-every", type=int, default=0, metavar="N",
                        help="Also run Frontdesk with each visitor sending a page.viewed frame after every N-th "
                             "message (leads' journey reporting on the same socket and writer).")
    parser.add_argument("--scale-out", action="store_true",
                        help="Compare one node on SQLite, one node on PostgreSQL + Redis and two nodes on "
                             "PostgreSQL + Redis (visitors and operators round-robin over the nodes), plus the "
                             "bare relay. Each PostgreSQL run gets a scratch database and its own Redis prefix.")
    parser.add_argument("--no-bare", action="store_true", help="With --scale-out: leave out the bare relay.")
    parser.add_argument("--pg-admin-url", default=os.environ.get("FRONTDESK_BENCH_PG_URL",
                                                                  "postgresql://postgres@127.0.0.1:5432/test"),
                        help="With --scale-out: a PostgreSQL database to connect to for CREATE/DROP DATABASE "
                             "(env FRONTDESK_BENCH_PG_URL).")
    parser.add_argument("--redis-url", default=os.environ.get("FRONTDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
                        help="With --scale-out: the Redis the nodes share (env FRONTDESK_BENCH_REDIS_URL).")
    parser.add_argument("--generate", metavar="CONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:  # the entry points of old: the parts run on their own now
        sys.argv = [relay_bare.__file__, "--port", str(args.port)]
        return relay_bare.main()
    if args.generate:
        sys.argv = [relay_load.__file__, args.generate, args.out]
        return relay_load.main()
    try:
        return main_scale_out(args) if args.scale_out else main_bench(args)
    finally:
        cleanup_all(args)


if __name__ == "__main__":
    sys.exit(main())
