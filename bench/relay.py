"""Relay benchmark: Frontdesk (durable, SQLite) against a bare `websockets` relay.

    .venv/bin/python bench/relay.py [--visitors 50] [--operators 5] [--seconds 10]
                                    [--rate 0] [--fixed-rate 100,1000] [--repeat 1]
                                    [--page-views-every N]

One invocation, 127.0.0.1 only, every loop bounded:

* the **bare relay** (this file, ``--serve-bare``) persists nothing: a visitor's
  ``message.send`` gets an ``ack`` and is fanned out as ``message.created`` to every
  operator socket (same frame shapes as Frontdesk);
* **Frontdesk** is ``frontdesk serve`` on a fresh temporary data dir (SQLite, default
  durable settings: each message committed before its ack);
* the **load generator** (this file, ``--generate``) is a separate process holding all
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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SITE_ORIGIN = "http://bench.test"
OPERATOR_PASSWORD = "bench-password-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies over all cores, from /proc/stat (busy excludes steal)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq, steal, sum(values[:8])


INFRA_COMMS = {"postgres": "postgres", "redis": "redis-server"}


def infra_cpu_seconds() -> dict[str, dict[int, float]]:
    """CPU seconds of every PostgreSQL and Redis process on the machine, by pid."""
    found: dict[str, dict[int, float]] = {name: {} for name in INFRA_COMMS}
    by_comm = {comm: name for name, comm in INFRA_COMMS.items()}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in by_comm:
            cpu = proc_cpu_seconds(int(entry.name))
            if cpu is not None:
                found[by_comm[comm]][int(entry.name)] = cpu
    return found


def infra_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots; a process new in `after` counts whole (it started in between)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --------------------------------------------------------------------------- bare relay


async def serve_bare(port: int) -> None:
    """A relay that persists nothing: ack the sender, fan out to all operators."""
    import websockets
    from websockets.asyncio.server import broadcast, serve

    operators: set[Any] = set()
    counters = {"event": 0}
    site = {"id": 1, "name": "Bench"}

    async def operator(ws: Any) -> None:
        await ws.recv()  # hello
        await ws.send(json.dumps({
            "type": "welcome", "operator": {"id": uuid.uuid4().hex, "name": None, "email": "op@bench.test"},
            "last_event_id": counters["event"],
        }, separators=(",", ":")))
        operators.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            operators.discard(ws)

    async def visitor(ws: Any) -> None:
        await ws.recv()  # hello
        visitor = {"id": uuid.uuid4().hex, "name": None, "email": None, "phone": None}
        conversation_id = uuid.uuid4().hex
        created_at = now_iso()
        seq = 0
        await ws.send(json.dumps({"type": "welcome", "visitor": visitor, "conversation": None,
                                  "operators_online": bool(operators)}, separators=(",", ":")))
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") != "message.send":
                continue
            seq += 1
            counters["event"] += 1
            at = now_iso()
            message = {"seq": seq, "client_id": frame["id"], "author": {"kind": "visitor", "name": None},
                       "body": frame["body"], "created_at": at}
            summary = {"id": conversation_id, "site": site, "visitor": visitor, "status": "open",
                       "created_at": created_at, "last_message_at": at,
                       "last_message_preview": frame["body"][:140], "unread_count": seq, "last_seq": seq}
            broadcast(operators, json.dumps({
                "event_id": counters["event"], "type": "message.created", "conversation_id": conversation_id,
                "message": message, "conversation": summary,
            }, ensure_ascii=False, separators=(",", ":")))
            await ws.send(json.dumps({"type": "ack", "id": frame["id"], "seq": seq,
                                      "conversation_id": conversation_id, "created_at": at},
                                     separators=(",", ":")))

    async def handler(ws: Any) -> None:
        try:
            if ws.request.path.startswith("/operator"):
                await operator(ws)
            else:
                await visitor(ws)
        except websockets.ConnectionClosed:
            pass

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536, ping_interval=None):
        await asyncio.Future()


# --------------------------------------------------------------------------- load generator


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
        if self.cfg["target"] == "bare":
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
        connect = self.connect_bare if cfg["target"] == "bare" else self.connect_frontdesk
        visitors, operators = await asyncio.wait_for(connect(), 60)
        tasks = [asyncio.create_task(self.operator_reader(ws, j)) for j, ws in enumerate(operators)]
        rate = cfg["rate"]
        for i, ws in enumerate(visitors):
            node = i % len(self.ports) if cfg["target"] != "bare" else 0
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
        infra0 = infra_cpu_seconds()
        cpu0 = (proc_cpu_seconds(os.getpid()), [proc_cpu_seconds(p) for p in server_pids], system_cpu())
        w0 = time.perf_counter()
        await asyncio.sleep(max(0.0, (self.window_end - time.perf_counter_ns()) / 1e9))
        cpu1 = (proc_cpu_seconds(os.getpid()), [proc_cpu_seconds(p) for p in server_pids], system_cpu())
        infra1 = infra_cpu_seconds()
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
            "nodes": len(self.ports) if cfg["target"] != "bare" else 1,
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


# --------------------------------------------------------------------------- orchestration


def run_generator(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fd-bench-gen-") as tmp:
        cfg_path, out = Path(tmp) / "cfg.json", Path(tmp) / "out.json"
        cfg_path.write_text(json.dumps(cfg))
        proc = start_process([sys.executable, __file__, "--generate", str(cfg_path), "--out", str(out)])
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


def frontdesk_bin() -> list[str]:
    exe = Path(sys.executable).parent / "frontdesk"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "server.cli"]


def frontdesk_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(FRONTDESK_DATA_DIR=str(data_dir), FRONTDESK_LOG_LEVEL="warning",
               FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE="100000", FRONTDESK_VISITOR_MESSAGES_PER_MINUTE="10000000")
    env.update({"FRONTDESK_" + k.upper(): v for k, v in settings.items()})
    return env


# Frontdesk variants: extra settings per target name (the default is durable: synchronous=FULL).
FRONTDESK_VARIANTS = {"frontdesk": {}, "frontdesk-sync-off": {"sqlite_synchronous": "OFF"},
                      # --page-views-every N: the same server, its visitors also report pages (leads).
                      "frontdesk-pages": {"visitor_pages_per_minute": "10000000"}}


def make_template(tmp: Path, operators: int) -> tuple[Path, str, list[str]]:
    """A data dir with the site and operators, copied fresh for every Frontdesk run."""
    data = tmp / "template"
    env = frontdesk_env(data)
    out = subprocess.run(frontdesk_bin() + ["create-site", "Bench", "--origin", SITE_ORIGIN, "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    match = re.search(r"^key: (\S+)", out, re.M)
    if not match:
        raise RuntimeError(f"no site key in: {out!r}")
    emails = [f"op{i + 1}@bench.example.com" for i in range(operators)]
    for email in emails:
        subprocess.run(frontdesk_bin() + ["create-operator", email, "--password", OPERATOR_PASSWORD,
                                          "--data-dir", str(data)],
                       env=env, capture_output=True, text=True, check=True, timeout=60)
    return data, match.group(1), emails


def count_rows(db_path: Path) -> dict[str, int]:
    try:
        with sqlite3.connect(db_path) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("messages", "events")}
    except sqlite3.Error as exc:
        return {"error": str(exc)}  # type: ignore[dict-item]


# Scale-out targets: nodes on one fresh PostgreSQL database and one Redis (unique key prefix).
SCALE_OUT_TARGETS = {"pg-redis-1": 1, "pg-redis-2": 2}
TARGET_LABELS = {"bare": "bare relay", "frontdesk": "SQLite, 1 node", "frontdesk-sync-off": "SQLite sync=OFF",
                 "frontdesk-pages": "SQLite + page views",
                 "pg-redis-1": "PG + Redis, 1 node", "pg-redis-2": "PG + Redis, 2 nodes"}

# Everything this process started and has not stopped yet: stopped in main's `finally`.
_LIVE: list[subprocess.Popen[bytes]] = []
_SCRATCH_DATABASES: set[str] = set()


def start_process(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, **kwargs)
    _LIVE.append(proc)
    return proc


def stop_tracked(proc: subprocess.Popen[bytes]) -> None:
    try:
        stop_process(proc)
    finally:
        if proc in _LIVE:
            _LIVE.remove(proc)


def pg_run(admin_url: str, fn: Any) -> Any:
    """Run ``await fn(conn)`` on a fresh asyncpg connection to ``admin_url`` (bounded)."""
    import asyncpg

    async def go() -> Any:
        conn = await asyncpg.connect(admin_url, timeout=10, command_timeout=60)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def pg_url(admin_url: str, database: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + database


def create_scratch_database(admin_url: str) -> str:
    name = "fd_bench_" + uuid.uuid4().hex[:12]
    pg_run(admin_url, lambda conn: conn.execute(f'CREATE DATABASE "{name}"'))
    _SCRATCH_DATABASES.add(name)
    return name


def drop_scratch_database(admin_url: str, name: str) -> None:
    pg_run(admin_url, lambda conn: conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    _SCRATCH_DATABASES.discard(name)


def pg_count_rows(url: str) -> dict[str, int]:
    async def count(conn: Any) -> dict[str, int]:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("messages", "events")}

    try:
        return pg_run(url, count)
    except Exception as exc:  # noqa: BLE001 - reported in the result
        return {"error": f"{type(exc).__name__}: {exc}"}  # type: ignore[dict-item]


def redis_delete_prefix(url: str, prefix: str) -> int:
    """Delete this run's Redis keys (presence, rate limits); returns how many."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def check_services(args: argparse.Namespace) -> None:
    """Fail early, with the reason, when PostgreSQL or Redis is not there."""
    import redis

    try:
        pg_run(args.pg_admin_url, lambda conn: conn.fetchval("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"PostgreSQL not reachable at {args.pg_admin_url}: {type(exc).__name__}: {exc}")
    try:
        client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        raise SystemExit(f"Redis not reachable at {args.redis_url}: {type(exc).__name__}: {exc}")


def setup_database(env: dict[str, str], operators: int, cwd: Path) -> tuple[str, list[str]]:
    """`frontdesk migrate`, then the site and the operators, with ``env`` (PostgreSQL)."""
    def run(cmd: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(frontdesk_bin() + cmd, env=env, cwd=cwd, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _LIVE.append(proc)  # type: ignore[arg-type]
        return proc

    def finish(proc: subprocess.Popen[str], what: str) -> str:
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=10)
        finally:
            _LIVE.remove(proc)  # type: ignore[arg-type]
        if proc.returncode != 0:
            raise RuntimeError(f"{what} failed ({proc.returncode}): {out[-1000:]}")
        return out

    finish(run(["migrate"]), "frontdesk migrate")
    site = run(["create-site", "Bench", "--origin", SITE_ORIGIN])
    emails = [f"op{i + 1}@bench.example.com" for i in range(operators)]
    # Operators are independent writes: in parallel (each is a process start + an argon2 hash).
    procs = [run(["create-operator", email, "--password", OPERATOR_PASSWORD]) for email in emails]
    try:
        out = finish(site, "create-site")
        for proc, email in zip(procs, emails):
            finish(proc, f"create-operator {email}")
    finally:
        for proc in procs:  # after a failure: the others too, now
            if proc in _LIVE:  # type: ignore[comparison-overlap]
                stop_tracked(proc)  # type: ignore[arg-type]
    match = re.search(r"^key: (\S+)", out, re.M)
    if not match:
        raise RuntimeError(f"no site key in: {out!r}")
    return match.group(1), emails


def run_target(target: str, args: argparse.Namespace, rate: float, tmp: Path,
               template: tuple[Path, str, list[str]] | None, run_no: int) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "target": target, "visitors": args.visitors, "operators": args.operators,
        "seconds": args.seconds, "warmup": args.warmup, "window": args.window, "rate": rate,
        "max_outstanding": args.window * 4, "drain": 10.0,
        "page_every": args.page_views_every if target == "frontdesk-pages" else 0,
    }
    procs: list[subprocess.Popen[bytes]] = []
    log_paths: list[Path] = []
    data_dir: Path | None = None
    db_name = redis_prefix = None
    result: dict[str, Any] | None = None
    alive: list[bool] = []
    try:
        if target == "bare":
            port = free_port()
            log_paths.append(tmp / f"run{run_no}-{target}.log")
            with open(log_paths[-1], "wb") as log:
                procs.append(start_process([sys.executable, __file__, "--serve-bare", "--port", str(port)],
                                           stdout=log, stderr=subprocess.STDOUT))
            wait_for_port(port, procs[-1])
            ports = [port]
        elif target in FRONTDESK_VARIANTS:
            assert template is not None
            data_dir = tmp / f"run{run_no}-data"
            shutil.copytree(template[0], data_dir)
            port = free_port()
            log_paths.append(tmp / f"run{run_no}-{target}.log")
            with open(log_paths[-1], "wb") as log:
                procs.append(start_process(frontdesk_bin() + ["serve", "--port", str(port)],
                                           env=frontdesk_env(data_dir, **FRONTDESK_VARIANTS[target]),
                                           stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
            wait_for_http(f"http://127.0.0.1:{port}/healthz", procs[-1])
            ports = [port]
            cfg.update(site_key=template[1], operator_emails=template[2])
        else:
            nodes = SCALE_OUT_TARGETS[target]
            db_name = create_scratch_database(args.pg_admin_url)
            redis_prefix = f"fd-bench-{uuid.uuid4().hex[:10]}:"
            data_dir = tmp / f"run{run_no}-data"
            data_dir.mkdir()
            env = frontdesk_env(data_dir, database_url=pg_url(args.pg_admin_url, db_name),
                                redis_url=args.redis_url, redis_prefix=redis_prefix,
                                secret_key=uuid.uuid4().hex + uuid.uuid4().hex)  # the same on every node
            site_key, emails = setup_database(env, args.operators, tmp)
            ports = []
            for k in range(nodes):
                port = free_port()
                log_paths.append(tmp / f"run{run_no}-{target}-node{k}.log")
                with open(log_paths[-1], "wb") as log:
                    procs.append(start_process(frontdesk_bin() + ["serve", "--port", str(port)], env=env,
                                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
                wait_for_http(f"http://127.0.0.1:{port}/healthz", procs[-1])
                ports.append(port)
            cfg.update(site_key=site_key, operator_emails=emails)
        cfg.update(port=ports[0], ports=ports, server_pids=[p.pid for p in procs])
        result = run_generator(cfg, timeout=args.warmup + args.seconds + 90)
    finally:
        alive = [p.poll() is None for p in procs]
        for proc in procs:
            stop_tracked(proc)
        stored: dict[str, int] | None = None
        if db_name is not None:
            try:
                if result is not None:
                    stored = pg_count_rows(pg_url(args.pg_admin_url, db_name))
            finally:
                drop_scratch_database(args.pg_admin_url, db_name)
        elif data_dir is not None and result is not None:
            stored = count_rows(data_dir / "frontdesk.db") if (data_dir / "frontdesk.db").exists() \
                else {p.name: count_rows(p) for p in data_dir.glob("*.db")}
        if redis_prefix is not None:
            try:
                redis_delete_prefix(args.redis_url, redis_prefix)
            except Exception as exc:  # noqa: BLE001 - cleanup only
                print(f"         warning: could not delete Redis keys {redis_prefix}*: {exc}")
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)
    assert result is not None
    result["server_alive_at_end"] = all(alive)
    server_log = "\n".join(
        (f"[node{k}] " if len(log_paths) > 1 else "") + line
        for k, path in enumerate(log_paths) for line in path.read_text(errors="replace").splitlines()
        if line.strip() and not line.startswith("database schema at revision"))
    if server_log:
        result["server_log_tail"] = server_log[-2000:]
    if stored is not None:
        result["stored_rows"] = stored
        count = stored.get("messages")
        if isinstance(count, int) and count < result["total_acked"]:
            result["errors"]["acked_but_not_stored"] = result["total_acked"] - count
            result["error_count"] = sum(result["errors"].values())
    return result


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_columns(header: list[str], rows: list[list[str]]) -> None:
    """A right-aligned text table with a rule under the header."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def print_table(runs: list[dict[str, Any]]) -> None:
    header = ["#", "target", "load", "acked msg/s", "deliv p50", "p95", "p99", "ack p50", "ack p99",
              "errors", "unfin", "gen CPU", "srv CPU", "box CPU"]
    rows = []
    for r in runs:
        cpu = r["cpu_pct_of_one_core"]
        rows.append([
            str(r["round"]), r["target"], r["mode"], fmt(r["acked_per_s"], 0),
            fmt(r["delivery_ms"]["p50"], 2), fmt(r["delivery_ms"]["p95"], 2), fmt(r["delivery_ms"]["p99"], 2),
            fmt(r["ack_ms"]["p50"], 2), fmt(r["ack_ms"]["p99"], 2), fmt(r["error_count"]),
            fmt(r["unfinished_count"]),
            f"{fmt(cpu['generator'], 0)}%", f"{fmt(cpu['server'], 0)}%", f"{fmt(cpu['whole_machine'], 0)}%",
        ])
    print_columns(header, rows)
    print("latencies in ms; delivery = send -> first operator receives message.created; unfin = sent in the\n"
          "window but not acked/delivered within the drain time; CPU in % of one core over the measured window")


def print_warnings(runs: list[dict[str, Any]]) -> None:
    for r in runs:
        cpu, label = r["cpu_pct_of_one_core"], f"round {r['round']} {r['target']} {r['mode']}"
        if (cpu["generator"] or 0) >= 85:
            print(f"note: {label}: the generator used {cpu['generator']:.0f}% of a core; "
                  "it may be a co-bottleneck (the figure is a lower bound)")
        cores = cpu.get("cores") or 1
        if (cpu["whole_machine"] or 0) >= 90 * cores:
            print(f"note: {label}: the machine was saturated ({cpu['whole_machine']:.0f}% of {cores * 100}%)")
        other = (cpu["whole_machine"] or 0) - (cpu["generator"] or 0) - (cpu["server"] or 0)
        if r["target"] in SCALE_OUT_TARGETS:
            other -= (cpu.get("postgres") or 0) + (cpu.get("redis") or 0)
        if other >= 30:
            print(f"note: {label}: {other:.0f}% of a core went to other processes (noise)")
        if r["rate"] > 0 and r["acked_per_s"] < 0.95 * r["rate"]:
            print(f"note: {label}: offered {r['rate']:g} msg/s, acked {r['acked_per_s']:,.0f} msg/s "
                  f"({r['skipped_sends']} send slots skipped): the target did not sustain this rate")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(target: str, mode: str, key: Any) -> float | None:
        values = [key(r) for r in runs if r["target"] == target and r["mode"] == mode and key(r) is not None]
        return statistics.median(values) if values else None

    summary: dict[str, Any] = {}
    for mode in dict.fromkeys(r["mode"] for r in runs):
        b_tp = med("bare", mode, lambda r: r["acked_per_s"])
        f_tp = med("frontdesk", mode, lambda r: r["acked_per_s"])
        entry = {
            "bare_msg_s": b_tp, "frontdesk_msg_s": f_tp,
            "throughput_ratio": round(f_tp / b_tp, 3) if b_tp and f_tp else None,
            "delivery_p99_ms": {"bare": med("bare", mode, lambda r: r["delivery_ms"]["p99"]),
                                "frontdesk": med("frontdesk", mode, lambda r: r["delivery_ms"]["p99"])},
            "ack_p99_ms": {"bare": med("bare", mode, lambda r: r["ack_ms"]["p99"]),
                           "frontdesk": med("frontdesk", mode, lambda r: r["ack_ms"]["p99"])},
        }
        summary[mode] = entry
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print()
    print("Frontdesk / bare (medians over rounds):")
    for mode, e in summary.items():
        d, a = e["delivery_p99_ms"], e["ack_p99_ms"]
        print(f"  {mode:>10}: throughput {fmt(e['frontdesk_msg_s'], 0)} / {fmt(e['bare_msg_s'], 0)} msg/s"
              f" = {fmt(e['throughput_ratio'], 2)}x;"
              f"  delivery p99 {fmt(d['frontdesk'], 2)} vs {fmt(d['bare'], 2)} ms;"
              f"  ack p99 {fmt(a['frontdesk'], 2)} vs {fmt(a['bare'], 2)} ms")


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main_bench(args: argparse.Namespace) -> int:
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    plan: list[tuple[str, float]] = [("bare", args.rate), ("frontdesk", args.rate)]
    if args.sync_off_control:
        plan.append(("frontdesk-sync-off", args.rate))
    if args.page_views_every:
        plan.append(("frontdesk-pages", args.rate))
    if args.rate <= 0:
        for fixed in fixed_rates(args, "100,1000"):
            plan += [("bare", fixed), ("frontdesk", fixed)]
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
                result = run_target(target, args, rate, tmp, template if target != "bare" else None, n)
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
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"relay-{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join([display_path(Path(sys.executable)), "bench/relay.py", *sys.argv[1:]]),
        "started": now_iso(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("generate", "out", "serve_bare", "port")},
        "runs": runs, "summary": summary, "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2))
    print(f"\nresult: {out.relative_to(ROOT)}  ({time.monotonic() - started:.0f}s)")
    return 0


def cleanup_all(args: argparse.Namespace) -> None:
    """Stop whatever is still running and drop leftover scratch databases (errors, Ctrl-C)."""
    for proc in list(_LIVE):
        stop_tracked(proc)
    for name in list(_SCRATCH_DATABASES):
        try:
            drop_scratch_database(args.pg_admin_url, name)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: could not drop scratch database {name}: {exc}")


def fixed_rates(args: argparse.Namespace, default: str) -> list[float]:
    spec = default if args.fixed_rate is None else args.fixed_rate
    return [float(x) for x in str(spec).split(",") if x.strip() and float(x) > 0]


def print_scale_table(runs: list[dict[str, Any]]) -> None:
    header = ["#", "target", "load", "acked msg/s", "deliv p50", "p99", "cross-node p50", "p99",
              "all-ops p99", "ack p50", "ack p99", "err", "unfin", "gen", "nodes", "pg", "redis", "box"]
    rows = []
    for r in runs:
        label = TARGET_LABELS.get(r["target"], r["target"])
        if "failed" in r:
            rows.append([str(r["round"]), label, r["mode"], "FAILED"] + [""] * (len(header) - 4))
            continue
        cpu, cross = r["cpu_pct_of_one_core"], r["cross_node_delivery_ms"]
        nodes = "+".join(fmt(v, 0) for v in cpu["server_per_node"])
        rows.append([
            str(r["round"]), label, r["mode"], fmt(r["acked_per_s"], 0),
            fmt(r["delivery_ms"]["p50"], 2), fmt(r["delivery_ms"]["p99"], 2),
            fmt(cross["p50"], 2), fmt(cross["p99"], 2), fmt(r["delivery_all_ms"]["p99"], 2),
            fmt(r["ack_ms"]["p50"], 2), fmt(r["ack_ms"]["p99"], 2), fmt(r["error_count"]),
            fmt(r["unfinished_count"]), f"{fmt(cpu['generator'], 0)}%",
            f"{fmt(cpu['server'], 0)}%" + (f" ({nodes})" if len(cpu["server_per_node"]) > 1 else ""),
            f"{fmt(cpu['postgres'], 0)}%", f"{fmt(cpu['redis'], 0)}%", f"{fmt(cpu['whole_machine'], 0)}%",
        ])
    print_columns(header, rows)
    print("latencies in ms; deliv = send -> first operator has message.created; cross-node = send -> first\n"
          "operator on the other node; all-ops = send -> the last of the operators has it; unfin = sent in the\n"
          "window but not acked/delivered to all within the drain time; CPU in % of one core over the measured\n"
          "window: generator, Frontdesk nodes (sum, per node), all postgres and redis-server processes, machine")


def summarize_scale(runs: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
    ok = [r for r in runs if "failed" not in r]
    summary: dict[str, Any] = {}
    for mode in dict.fromkeys(r["mode"] for r in runs):
        entry: dict[str, Any] = {}
        for target in targets:
            mine = [r for r in ok if r["target"] == target and r["mode"] == mode]

            def med(key: Any) -> float | None:
                values = [key(r) for r in mine if key(r) is not None]
                return round(statistics.median(values), 2) if values else None

            entry[target] = {
                "runs": len(mine),
                "acked_msg_s": med(lambda r: r["acked_per_s"]),
                "delivery_p50_ms": med(lambda r: r["delivery_ms"]["p50"]),
                "delivery_p99_ms": med(lambda r: r["delivery_ms"]["p99"]),
                "cross_node_p99_ms": med(lambda r: r["cross_node_delivery_ms"]["p99"]),
                "ack_p50_ms": med(lambda r: r["ack_ms"]["p50"]),
                "ack_p99_ms": med(lambda r: r["ack_ms"]["p99"]),
                "server_cpu_pct": med(lambda r: r["cpu_pct_of_one_core"]["server"]),
                "postgres_cpu_pct": med(lambda r: r["cpu_pct_of_one_core"]["postgres"]),
                "redis_cpu_pct": med(lambda r: r["cpu_pct_of_one_core"]["redis"]),
                "errors": sum(r["error_count"] for r in mine),
                "unfinished": sum(r["unfinished_count"] for r in mine),
            }
        base = (entry.get("frontdesk") or {}).get("acked_msg_s")
        for target in targets:
            tp = entry[target]["acked_msg_s"]
            entry[target]["vs_sqlite_1_node"] = round(tp / base, 3) if base and tp else None
        summary[mode] = entry
    return summary


def print_scale_summary(summary: dict[str, Any]) -> None:
    print()
    print("medians over rounds (throughput relative to SQLite, 1 node):")
    for mode, entry in summary.items():
        print(f"  {mode}:")
        for target, e in entry.items():
            print(f"    {TARGET_LABELS.get(target, target):>20}: {fmt(e['acked_msg_s'], 0):>7} msg/s"
                  f" ({fmt(e['vs_sqlite_1_node'], 2)}x), delivery p50/p99 {fmt(e['delivery_p50_ms'], 2)}/"
                  f"{fmt(e['delivery_p99_ms'], 2)} ms, ack p50/p99 {fmt(e['ack_p50_ms'], 2)}/"
                  f"{fmt(e['ack_p99_ms'], 2)} ms, nodes CPU {fmt(e['server_cpu_pct'], 0)}%, pg "
                  f"{fmt(e['postgres_cpu_pct'], 0)}%, redis {fmt(e['redis_cpu_pct'], 0)}%, errors {e['errors']},"
                  f" unfinished {e['unfinished']}")


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
    targets = ([] if args.no_bare else ["bare"]) + ["frontdesk", *SCALE_OUT_TARGETS]
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
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"relay-scale-out-{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join([display_path(Path(sys.executable)), "bench/relay.py", *sys.argv[1:]]),
        "started": now_iso(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("generate", "out", "serve_bare", "port")},
        "code": {"before": code_before, "after": code_after},
        "runs": runs, "summary": summary, "elapsed_s": round(time.monotonic() - started, 1),
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
    parser.add_argument("--sync-off-control", action="store_true",
                        help="Also run Frontdesk with FRONTDESK_SQLITE_SYNCHRONOUS=OFF (not durable across power "
                             "loss), to see what the disk sync costs.")
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
    if args.serve_bare:
        try:
            try:
                import uvloop  # as `frontdesk serve` does, so the comparison is like for like
            except ImportError:
                asyncio.run(serve_bare(args.port))
            else:
                uvloop.run(serve_bare(args.port))
        except KeyboardInterrupt:
            pass
        return 0
    if args.generate:
        generate_main(json.loads(Path(args.generate).read_text()), Path(args.out))
        return 0
    try:
        return main_scale_out(args) if args.scale_out else main_bench(args)
    finally:
        cleanup_all(args)


if __name__ == "__main__":
    sys.exit(main())
