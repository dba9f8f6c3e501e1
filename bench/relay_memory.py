"""Memory per idle greeted visitor socket: what one more open widget costs the server.

    .venv/bin/python bench/relay_memory.py [--sockets 2000] [--repeat 3]

Starts ``frontdesk serve`` (SQLite) on a fresh data dir, registers ``--sockets`` visitors
(``POST …/visitors``), then opens one visitor socket each, says ``hello`` and waits for
``welcome`` — a visitor who has the panel open and is idle. Reports the server's resident
memory (VmRSS) growth per socket and how many such sockets fit in a GiB. (The issue-20
figure: 44.5 KiB a socket, 23,500 a GiB; a bare Starlette websocket 25.7 KiB.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import (  # noqa: E402
    SITE_ORIGIN, free_port, frontdesk_bin, frontdesk_env, make_template, start_process, stop_tracked, wait_for_http,
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_sockets(port: int, site_key: str, count: int, pid: int) -> float:
    import httpx
    import websockets

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers={"Origin": SITE_ORIGIN}) as http:
        tokens = []
        for _ in range(count):
            response = await http.post(f"/api/widget/v1/sites/{site_key}/visitors", json={"token": None})
            tokens.append(response.json()["token"])
    sockets = []

    async def greet(token: str) -> None:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor?site={site_key}", origin=SITE_ORIGIN,
                                      compression=None, max_queue=4)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        sockets.append(ws)

    for token in tokens[:50]:  # warm up: first allocations, caches
        await greet(token)
    await asyncio.sleep(1)
    before = rss_kib(pid)
    for start in range(50, count, 100):
        await asyncio.gather(*(greet(t) for t in tokens[start:start + 100]))
    await asyncio.sleep(2)
    after = rss_kib(pid)
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
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        return asyncio.run(open_sockets(port, site_key, sockets, proc.pid))
    finally:
        stop_tracked(proc)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
