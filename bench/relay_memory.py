"""Memory per idle greeted visitor socket: what one more open widget costs the server.

    .venv/bin/python bench/relay_memory.py [--sockets 2000] [--repeat 3]

Starts ``frontdesk serve`` (SQLite) on a fresh data dir, registers ``--sockets`` visitors
(``POST …/visitors``), then opens one visitor socket each, says ``hello`` and waits for
``welcome`` — a visitor who has the panel open and is idle. Reports the server's resident
memory (VmRSS) growth per socket and how many such sockets fit in a GiB. (The issue-20
figure: 44.5 KiB a socket, 23,500 a GiB; a bare Starlette websocket 25.7 KiB.)

    .venv/bin/python bench/relay_memory.py --trace [--sockets 1000] [--top 30]

``--trace`` runs the server under ``tracemalloc`` instead (slower; figures only for
finding what holds the memory): a snapshot after the warm-up sockets and one after the
rest, and the allocation sites that grew, in bytes a socket, grouped by where they were
allocated (``--group filename`` or the default ``lineno``; ``--frames N`` for deeper tracebacks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay_load import SITE_ORIGIN  # noqa: E402
from relay_proc import free_port, start_process, stop_tracked, wait_for_http  # noqa: E402
from relay_targets import frontdesk_bin, frontdesk_env, make_template  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_sockets(port: int, site_key: str, count: int, pid: int,
                       mark: Callable[[str], None] | None = None) -> float:
    import httpx
    import websockets

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers={"Origin": SITE_ORIGIN}, timeout=120) as http:
        tokens = []
        for _ in range(count):
            response = await http.post(f"/api/widget/v1/sites/{site_key}/visitors", json={"token": None})
            tokens.append(response.json()["token"])
    sockets = []

    async def greet(token: str) -> None:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor?site={site_key}", origin=SITE_ORIGIN,
                                      compression=None, max_queue=4, open_timeout=120)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        sockets.append(ws)

    for token in tokens[:50]:  # warm up: first allocations, caches
        await greet(token)
    await asyncio.sleep(1)
    if mark is not None:
        mark("before")
    before = rss_kib(pid)
    for start in range(50, count, 100):
        await asyncio.gather(*(greet(t) for t in tokens[start:start + 100]))
    await asyncio.sleep(2)
    after = rss_kib(pid)
    if mark is not None:
        mark("after")
    for ws in sockets:
        await ws.close()
    return (after - before) / (count - 50)


def one_run(sockets: int, tmp: Path) -> float:
    data, site_key, _ = make_template(tmp, 0)
    port = free_port()
    env = frontdesk_env(data)
    env.update(FRONTDESK_SOCKETS_PER_IP="1000000", FRONTDESK_NEW_VISITORS_PER_IP_PER_MINUTE="1000000")
    log = open(tmp / "server.log", "wb")
    proc = start_process(frontdesk_bin() + ["serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=180)
        return asyncio.run(open_sockets(port, site_key, sockets, proc.pid))
    finally:
        stop_tracked(proc)
        log.close()


# --------------------------------------------------------------------------- --trace


def serve_traced(port: int, snapshots: Path) -> int:
    """``frontdesk serve`` in this process, tracemalloc on; SIGUSR1 writes a snapshot."""
    import gc
    import pickle
    import tracemalloc

    from server.cli.main import main as frontdesk

    taken = [0]

    def snapshot(*_: Any) -> None:
        gc.collect()
        taken[0] += 1
        path = snapshots / f"snap-{taken[0]}.pickle"
        with open(path.with_suffix(".tmp"), "wb") as f:
            pickle.dump(tracemalloc.take_snapshot(), f)
        path.with_suffix(".tmp").rename(path)

    signal.signal(signal.SIGUSR1, snapshot)
    return frontdesk(["serve", "--port", str(port)])


def trace_run(args: argparse.Namespace, tmp: Path) -> None:
    import pickle
    import tracemalloc

    data, site_key, _ = make_template(tmp, 0)
    port = free_port()
    env = frontdesk_env(data)
    env.update(FRONTDESK_SOCKETS_PER_IP="1000000", FRONTDESK_NEW_VISITORS_PER_IP_PER_MINUTE="1000000")
    log = open(tmp / "server.log", "wb")
    proc = start_process([sys.executable, "-X", f"tracemalloc={args.frames}", __file__, "--serve-traced",
                          "--port", str(port), "--snapshots", str(tmp)], env=env, stdout=log,
                         stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)
    snaps: dict[str, Path] = {}

    def mark(name: str) -> None:
        path = tmp / f"snap-{len(snaps) + 1}.pickle"
        os.kill(proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 300
        while not path.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"no snapshot from the server ({(tmp / 'server.log').read_text()[-2000:]})")
            time.sleep(0.2)
        snaps[name] = path

    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=300)
        kib = asyncio.run(open_sockets(port, site_key, args.sockets, proc.pid, mark))
    finally:
        stop_tracked(proc)
        log.close()
    if args.keep:
        import shutil

        for name, path in snaps.items():
            shutil.copy(path, Path(args.keep) / f"{name}.pickle")
    n = args.sockets - 50
    before, after = (pickle.loads(snaps[k].read_bytes()) for k in ("before", "after"))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), args.group)
    total = sum(s.size_diff for s in stats)
    print(f"RSS under tracemalloc: {kib:.1f} KiB a socket; traced Python allocations: {total / n / 1024:.1f} KiB "
          f"a socket ({n} sockets); the sites that grew most, in bytes a socket:")
    for stat in stats[:args.top]:
        frames = stat.traceback.format(most_recent_first=True)[: max(1, args.frames) * 2 : 2] if args.group == "traceback" \
            else [f"{stat.traceback[0].filename.split('site-packages/')[-1]}:{stat.traceback[0].lineno}"]
        print(f"  {stat.size_diff / n:8.0f} B  {stat.count_diff / n:6.2f} blocks  " + " <- ".join(f.strip() for f in frames))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trace", action="store_true", help="Where the memory goes (tracemalloc), not how much.")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--frames", type=int, default=1, help="With --trace: traceback depth kept and grouped by.")
    parser.add_argument("--group", choices=("lineno", "filename", "traceback"), default="lineno")
    parser.add_argument("--keep", help="With --trace: copy the two snapshots into this directory.")
    parser.add_argument("--serve-traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--snapshots", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_traced:
        return serve_traced(args.port, Path(args.snapshots))
    if args.trace:
        with tempfile.TemporaryDirectory(prefix="fd-bench-memory-") as tmp:
            trace_run(args, Path(tmp))
        return 0
    per_socket = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="fd-bench-memory-") as tmp:
            kib = one_run(args.sockets, Path(tmp))
        per_socket.append(kib)
        print(f"  run {i + 1}: {kib:.1f} KiB a socket ({1024 * 1024 / kib:,.0f} a GiB)")
    med = statistics.median(per_socket)
    print(f"median {med:.1f} KiB an idle greeted visitor socket (range {min(per_socket):.1f}–{max(per_socket):.1f}), "
          f"{1024 * 1024 / med:,.0f} a GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
