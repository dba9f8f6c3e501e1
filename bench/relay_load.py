"""The relay benchmark's load generator: one process holding every visitor and operator socket.

    .venv/bin/python bench/relay_load.py CONFIG.json OUT.json   (run by bench/relay.py)

Send, ack and each operator's receipt are timed on one clock. Saturated: a window of
un-acked messages per visitor; at a fixed rate: open loop, at most ``max_outstanding``
per visitor. With several ports (scale-out), visitor i and operator j connect to node
i % n and j % n, and receipts are tracked per operator socket (first, first on another
node, last; duplicates and missing deliveries by route). The result of a run is one JSON
object (see ``Generator.run``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from relay_proc import infra_cpu_seconds, infra_delta, percentile, proc_cpu_seconds, start_process, stop_tracked, \
    system_cpu

SITE_ORIGIN = "http://bench.test"
OPERATOR_PASSWORD = "bench-password-1"


class Record:
    __slots__ = ("sent", "acked", "first_op", "ops", "node", "mask", "first_cross", "last_op")

    def __init__(self, sent: int, node: int = 0) -> None:
        self.sent = sent
        self.acked = 0
        self.first_op = 0
        self.ops = 0
        self.node = node  # index of the node the sending visitor is connected to
        self.mask = 0  # bit j: operator socket j has received it
        self.first_cross = 0  # first receipt by an operator on another node than the visitor's
        self.last_op = 0  # receipt by the last operator (fan-out complete)


class Generator:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.bare = cfg["target"].startswith("bare")  # a bare relay (durable or not): no Frontdesk API
        self.n_ops = cfg["operators"]
        # Several nodes (--scale-out): visitor i and operator j on ports[i % n] / ports[j % n].
        self.ports: list[int] = cfg.get("ports") or [cfg["port"]]
        self.op_node = [j % len(self.ports) for j in range(self.n_ops)]
        self.cross_lat: list[float] = []
        self.all_lat: list[float] = []
        self.pending: dict[str, Record] = {}
        self.window_start = 0
        self.window_end = 0
        self.stop = False
        self.ack_lat: list[float] = []
        self.deliv_lat: list[float] = []
        self.acked_in_window = 0
        self.sent_in_window = 0
        self.complete = 0
        self.errors: dict[str, int] = {}
        self.skipped = 0  # fixed rate: send slots missed because too many were outstanding
        self.total_sent = 0
        self.page_views = 0  # page.viewed frames sent (--page-views-every)
        self.total_acked = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def in_window(self, t: int) -> bool:
        return self.window_start <= t < self.window_end

    def finish(self, cid: str, rec: Record) -> None:
        if self.in_window(rec.sent):
            self.ack_lat.append((rec.acked - rec.sent) / 1e6)
            self.deliv_lat.append((rec.first_op - rec.sent) / 1e6)
            self.all_lat.append((rec.last_op - rec.sent) / 1e6)
            if rec.first_cross:
                self.cross_lat.append((rec.first_cross - rec.sent) / 1e6)
            self.complete += 1
        del self.pending[cid]

    # -- frames -------------------------------------------------------------------

    def on_ack(self, cid: str) -> None:
        now = time.perf_counter_ns()
        rec = self.pending.get(cid)
        if rec is None or rec.acked:
            self.error("unexpected_ack")
            return
        rec.acked = now
        self.total_acked += 1
        if self.in_window(now):
            self.acked_in_window += 1
        if rec.ops >= self.n_ops:
            self.finish(cid, rec)

    def on_operator_message(self, cid: str, op: int = 0) -> None:
        now = time.perf_counter_ns()
        rec = self.pending.get(cid)
        if rec is None:
            self.error("unexpected_delivery")  # unknown id, or a repeat after all operators had it
            return
        bit = 1 << op
        if rec.mask & bit:
            self.error("duplicate_delivery")
            return
        rec.mask |= bit
        if not rec.first_op:
            rec.first_op = now
        if not rec.first_cross and self.op_node[op] != rec.node:
            rec.first_cross = now
        rec.ops += 1
        if rec.ops >= self.n_ops:
            rec.last_op = now
        if rec.acked and rec.ops >= self.n_ops:
            self.finish(cid, rec)

    # -- sockets ------------------------------------------------------------------

    async def operator_reader(self, ws: Any, op: int) -> None:
        import websockets

        marker = '"client_id":"'
        try:
            async for raw in ws:
                # Cheap parse: only message.created carries a client id; the generator
                # must not be the bottleneck.
                if '"type":"message.created"' not in raw:
                    continue
                i = raw.find(marker)
                if i < 0:
                    self.error("operator_frame_without_client_id")
                    continue
                i += len(marker)
                self.on_operator_message(raw[i:raw.index('"', i)], op)
        except websockets.ConnectionClosed as exc:
            if not self.stop:
                self.error(f"operator_closed_{exc.rcvd.code if exc.rcvd else 'none'}")

    async def visitor_reader(self, ws: Any, window: asyncio.Semaphore, outstanding: list[int]) -> None:
        import websockets

        try:
            async for raw in ws:
                if raw.startswith('{"type":"ack"'):
                    i = raw.index('"id":"') + 6
                    self.on_ack(raw[i:raw.index('"', i)])
                    outstanding[0] -= 1
                    window.release()
                    continue
                if '"type":"message.created"' in raw:  # own message echoed (Frontdesk): not timed
                    continue
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "ack":
                    self.on_ack(frame["id"])
                    outstanding[0] -= 1
                    window.release()
                elif kind == "error":
                    self.error(f"error_frame_{frame.get('code')}")
                    if frame.get("id") in self.pending:
                        del self.pending[frame["id"]]
                        outstanding[0] -= 1
                        window.release()
                # message.created (own echo), presence, typing: ignored
        except websockets.ConnectionClosed as exc:
            if not self.stop:
                self.error(f"visitor_closed_{exc.rcvd.code if exc.rcvd else 'none'}")

    async def send_one(self, ws: Any, n: int, node: int) -> None:
        cid = str(uuid.uuid4())
        t = time.perf_counter_ns()
        self.pending[cid] = Record(t, node)
        self.total_sent += 1
        if self.in_window(t):
            self.sent_in_window += 1
        body = f"bench message {n} sent_ns={t}"
        await ws.send(json.dumps({"type": "message.send", "id": cid, "body": body}, separators=(",", ":")))
        every = self.cfg.get("page_every") or 0
        if every and n % every == 0:  # the journey of a registered visitor: a page.viewed frame, not timed
            self.page_views += 1
            await ws.send(json.dumps({"type": "page.viewed", "url": f"https://bench.test/page/{n}?utm_source=bench",
                                      "title": f"Page {n}", "timezone": "Asia/Almaty"}, separators=(",", ":")))

    async def visitor_window_sender(self, ws: Any, window: asyncio.Semaphore, outstanding: list[int],
                                    node: int) -> None:
        n = 0
        while not self.stop:
            await window.acquire()
            if self.stop:
                return
            n += 1
            outstanding[0] += 1
            await self.send_one(ws, n, node)

    async def visitor_rate_sender(self, ws: Any, interval: float, outstanding: list[int], node: int) -> None:
        loop = asyncio.get_running_loop()
        limit = self.cfg["max_outstanding"]
        next_t = loop.time() + random.uniform(0, interval)
        n = 0
        while not self.stop:
            delay = next_t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stop:
                return
            next_t += interval
            if outstanding[0] >= limit:
                self.skipped += 1
                continue
            n += 1
            outstanding[0] += 1
            await self.send_one(ws, n, node)

    # -- setup ----------------------------------------------------------------------

    async def connect_bare(self) -> tuple[list[Any], list[Any]]:
        import websockets

        base = f"ws://127.0.0.1:{self.ports[0]}"
        opts = dict(compression=None, ping_interval=None, max_size=2**20)
        operators = []
        for _ in range(self.n_ops):
            ws = await websockets.connect(f"{base}/operator", **opts)
            await ws.send(json.dumps({"type": "hello", "after_event": None}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            operators.append(ws)
        visitors = []
        for _ in range(self.cfg["visitors"]):
            ws = await websockets.connect(f"{base}/visitor", **opts)
            await ws.send(json.dumps({"type": "hello", "token": "bare", "last_seq": 0}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            visitors.append(ws)
        return visitors, operators

    async def connect_frontdesk(self) -> tuple[list[Any], list[Any]]:
        import httpx
        import websockets

        key, ports = self.cfg["site_key"], self.ports
        opts = dict(compression=None, ping_interval=None, max_size=2**20)
        operators = []
        for j, email in enumerate(self.cfg["operator_emails"]):
            # Each socket logs in on, and connects to, its own node (round-robin).
            port = ports[self.op_node[j]]
            url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url) as http:
                page = await http.get("/console/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                if not token or "fd_csrf" not in http.cookies:
                    raise RuntimeError(f"login form without CSRF token/cookie: {page.status_code}")
                response = await http.post("/console/login", data={
                    "email": email, "password": OPERATOR_PASSWORD, "csrf_token": token.group(1)})
                if response.status_code != 303:
                    raise RuntimeError(f"login failed: {response.status_code} {response.text[:300]}")
                cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
            ws = await websockets.connect(f"{ws_url}/ws/console", origin=url,
                                          additional_headers={"Cookie": cookie}, **opts)
            await ws.send(json.dumps({"type": "hello", "after_event": None}))
            welcome = json.loads(await ws.recv())
            if welcome["type"] != "welcome":
                raise RuntimeError(f"console hello refused: {welcome}")
            operators.append(ws)
        tokens = []
        async with httpx.AsyncClient() as http:
            for i in range(self.cfg["visitors"]):
                port = ports[i % len(ports)]
                response = await http.post(f"http://127.0.0.1:{port}/api/widget/v1/sites/{key}/visitors",
                                           json={"token": None}, headers={"Origin": SITE_ORIGIN})
                response.raise_for_status()
                tokens.append(response.json()["token"])
        visitors = []
        for i, token in enumerate(tokens):
            ws_url = f"ws://127.0.0.1:{ports[i % len(ports)]}"
            ws = await websockets.connect(f"{ws_url}/ws/visitor?site={key}", origin=SITE_ORIGIN, **opts)
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
            welcome = json.loads(await ws.recv())
            if welcome["type"] != "welcome":
                raise RuntimeError(f"visitor hello refused: {welcome}")
            visitors.append(ws)
        return visitors, operators

    async def writer_counters(self) -> list[dict[str, float]] | None:
        """Each node's group-commit counters from /metrics (commits, writes); None for the bare relay."""
        if self.bare:
            return None
        import httpx

        found = []
        try:
            async with httpx.AsyncClient(timeout=3.0) as http:
                for port in self.ports:
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                    values = {}
                    for line in text.splitlines():
                        name, _, value = line.partition(" ")
                        if name in ("frontdesk_writer_commits_total", "frontdesk_writer_writes_total"):
                            values[name.split("_")[2]] = float(value)
                    found.append(values)
        except (httpx.HTTPError, ValueError):
            return None
        return found

    # -- run -------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        connect = self.connect_bare if self.bare else self.connect_frontdesk
        visitors, operators = await asyncio.wait_for(connect(), 60)
        tasks = [asyncio.create_task(self.operator_reader(ws, j)) for j, ws in enumerate(operators)]
        rate = cfg["rate"]
        for i, ws in enumerate(visitors):
            node = i % len(self.ports)
            window = asyncio.Semaphore(cfg["window"])
            outstanding = [0]
            tasks.append(asyncio.create_task(self.visitor_reader(ws, window, outstanding)))
            if rate > 0:
                interval = len(visitors) / rate
                tasks.append(asyncio.create_task(self.visitor_rate_sender(ws, interval, outstanding, node)))
            else:
                tasks.append(asyncio.create_task(self.visitor_window_sender(ws, window, outstanding, node)))

        t0 = time.perf_counter_ns()
        self.window_start = t0 + int(cfg["warmup"] * 1e9)
        self.window_end = self.window_start + int(cfg["seconds"] * 1e9)
        await asyncio.sleep(cfg["warmup"])
        server_pids: list[int] = cfg.get("server_pids") or []
        writer0 = await self.writer_counters()
        infra0 = infra_cpu_seconds(cfg.get("pg_database"))
        cpu0 = (proc_cpu_seconds(os.getpid()), [proc_cpu_seconds(p) for p in server_pids], system_cpu())
        w0 = time.perf_counter()
        await asyncio.sleep(max(0.0, (self.window_end - time.perf_counter_ns()) / 1e9))
        cpu1 = (proc_cpu_seconds(os.getpid()), [proc_cpu_seconds(p) for p in server_pids], system_cpu())
        infra1 = infra_cpu_seconds(cfg.get("pg_database"))
        wall = time.perf_counter() - w0
        writer1 = await self.writer_counters()
        writer = None
        if writer0 and writer1 and len(writer0) == len(writer1):
            writer = []
            for a, b in zip(writer0, writer1):
                commits = b.get("commits", 0) - a.get("commits", 0)
                writes = b.get("writes", 0) - a.get("writes", 0)
                writer.append({"commits_per_s": round(commits / wall, 1),
                               "writes_per_commit": round(writes / commits, 1) if commits else None})
        self.stop = True
        # Drain: let messages sent in the window finish (bounded).
        drain_until = time.monotonic() + cfg["drain"]
        while time.monotonic() < drain_until and any(self.in_window(r.sent) for r in self.pending.values()):
            await asyncio.sleep(0.05)
        unfinished = {
            "not_acked": sum(1 for r in self.pending.values() if self.in_window(r.sent) and not r.acked),
            "not_delivered_to_all_operators": sum(
                1 for r in self.pending.values() if self.in_window(r.sent) and r.ops < self.n_ops),
        }
        # Which deliveries are missing, by (visitor's node -> operator's node): a routing
        # fault between nodes shows up here as one pair only.
        missing: dict[str, int] = {}
        for rec in self.pending.values():
            if self.in_window(rec.sent) and rec.ops < self.n_ops:
                for j in range(self.n_ops):
                    if not rec.mask & (1 << j):
                        pair = f"node{rec.node}->node{self.op_node[j]}"
                        missing[pair] = missing.get(pair, 0) + 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in visitors + operators), return_exceptions=True)

        busy = cpu1[2][0] - cpu0[2][0]
        steal = cpu1[2][1] - cpu0[2][1]
        total = cpu1[2][2] - cpu0[2][2]
        ncpu = os.cpu_count() or 1
        gen_cpu = (cpu1[0] - cpu0[0]) / wall * 100 if cpu0[0] is not None and cpu1[0] is not None else None
        node_cpu = [(b - a) / wall * 100 if a is not None and b is not None else None
                    for a, b in zip(cpu0[1], cpu1[1])]
        srv_cpu = sum(node_cpu) if node_cpu and None not in node_cpu else None  # type: ignore[arg-type]
        infra = {name: infra_delta(infra0[name], infra1[name]) / wall * 100 for name in infra0}
        sys_cpu = busy / total * 100 * ncpu if total else None  # in "% of one core", like the others
        steal_cpu = steal / total * 100 * ncpu if total else None

        def r(v: float | None, nd: int = 2) -> float | None:
            return None if v is None else round(v, nd)

        return {
            "target": cfg["target"],
            "mode": f"{rate:g}/s" if rate > 0 else f"window {cfg['window']}",
            "rate": rate,
            "seconds": round(wall, 3),
            "sent_in_window": self.sent_in_window,
            "acked_per_s": r(self.acked_in_window / wall, 1),
            "complete": self.complete,
            "ack_ms": {"p50": r(percentile(self.ack_lat, 50), 3), "p95": r(percentile(self.ack_lat, 95), 3),
                       "p99": r(percentile(self.ack_lat, 99), 3), "max": r(max(self.ack_lat, default=None), 3)},
            "delivery_ms": {"p50": r(percentile(self.deliv_lat, 50), 3),
                            "p95": r(percentile(self.deliv_lat, 95), 3),
                            "p99": r(percentile(self.deliv_lat, 99), 3),
                            "max": r(max(self.deliv_lat, default=None), 3)},
            # send -> the last of the operators has it
            "delivery_all_ms": {"p50": r(percentile(self.all_lat, 50), 3),
                                "p99": r(percentile(self.all_lat, 99), 3)},
            # send -> first operator on another node than the visitor's (several nodes only)
            "cross_node_delivery_ms": {"p50": r(percentile(self.cross_lat, 50), 3),
                                       "p99": r(percentile(self.cross_lat, 99), 3),
                                       "count": len(self.cross_lat)},
            "nodes": len(self.ports),
            "writer_per_node": writer,  # group commit over the measured window, from /metrics
            "errors": self.errors,
            "error_count": sum(self.errors.values()),
            # sent in the window but not finished within the drain time (a backlog, not a failure)
            "unfinished_after_drain": unfinished,
            "missing_deliveries_by_route": missing,
            "unfinished_count": max(unfinished.values()),
            "skipped_sends": self.skipped,
            "page_views_sent": self.page_views,
            "total_sent": self.total_sent,
            "total_acked": self.total_acked,
            "cpu_pct_of_one_core": {"generator": r(gen_cpu, 1), "server": r(srv_cpu, 1),
                                    "server_per_node": [r(v, 1) for v in node_cpu],
                                    "postgres": r(infra["postgres"], 1), "redis": r(infra["redis"], 1),
                                    "whole_machine": r(sys_cpu, 1),
                                    "steal": r(steal_cpu, 1), "cores": ncpu},
        }


def generate_main(cfg: dict[str, Any], out: Path) -> None:
    try:
        import uvloop  # the generator should be as cheap as possible; both servers use uvloop too

        runner: Any = uvloop.run
        cfg["generator_loop"] = "uvloop"
    except ImportError:
        runner = asyncio.run
        cfg["generator_loop"] = "asyncio"
    result = runner(Generator(cfg).run())
    result["generator_loop"] = cfg["generator_loop"]
    out.write_text(json.dumps(result))


def run_generator(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fd-bench-gen-") as tmp:
        cfg_path, out = Path(tmp) / "cfg.json", Path(tmp) / "out.json"
        cfg_path.write_text(json.dumps(cfg))
        proc = start_process([sys.executable, __file__, str(cfg_path), str(out)])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"generator did not finish within {timeout:.0f}s")
        finally:
            stop_tracked(proc)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"generator failed with exit code {proc.returncode}")
        return json.loads(out.read_text())


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    generate_main(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
