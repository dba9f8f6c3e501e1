"""Relay benchmark: Frontdesk (durable, SQLite) against a bare `websockets` relay.

    .venv/bin/python bench/relay.py [--visitors 50] [--operators 5] [--seconds 10]
                                    [--rate 0] [--fixed-rate 100,1000] [--repeat 1]

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
Frontdesk@rate, ...). The table goes to stdout, a JSON result to
bench/results/relay-<timestamp>.json.
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
    __slots__ = ("sent", "acked", "first_op", "ops")

    def __init__(self, sent: int) -> None:
        self.sent = sent
        self.acked = 0
        self.first_op = 0
        self.ops = 0


class Generator:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.n_ops = cfg["operators"]
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
        self.total_acked = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def in_window(self, t: int) -> bool:
        return self.window_start <= t < self.window_end

    def finish(self, cid: str, rec: Record) -> None:
        if self.in_window(rec.sent):
            self.ack_lat.append((rec.acked - rec.sent) / 1e6)
            self.deliv_lat.append((rec.first_op - rec.sent) / 1e6)
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

    def on_operator_message(self, cid: str) -> None:
        now = time.perf_counter_ns()
        rec = self.pending.get(cid)
        if rec is None:
            self.error("unexpected_delivery")
            return
        if not rec.first_op:
            rec.first_op = now
        rec.ops += 1
        if rec.acked and rec.ops >= self.n_ops:
            self.finish(cid, rec)

    # -- sockets ------------------------------------------------------------------

    async def operator_reader(self, ws: Any) -> None:
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
                self.on_operator_message(raw[i:raw.index('"', i)])
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

    async def send_one(self, ws: Any, n: int) -> None:
        cid = str(uuid.uuid4())
        t = time.perf_counter_ns()
        self.pending[cid] = Record(t)
        self.total_sent += 1
        if self.in_window(t):
            self.sent_in_window += 1
        body = f"bench message {n} sent_ns={t}"
        await ws.send(json.dumps({"type": "message.send", "id": cid, "body": body}, separators=(",", ":")))

    async def visitor_window_sender(self, ws: Any, window: asyncio.Semaphore, outstanding: list[int]) -> None:
        n = 0
        while not self.stop:
            await window.acquire()
            if self.stop:
                return
            n += 1
            outstanding[0] += 1
            await self.send_one(ws, n)

    async def visitor_rate_sender(self, ws: Any, interval: float, outstanding: list[int]) -> None:
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
            await self.send_one(ws, n)

    # -- setup ----------------------------------------------------------------------

    async def connect_bare(self) -> tuple[list[Any], list[Any]]:
        import websockets

        base = f"ws://127.0.0.1:{self.cfg['port']}"
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

        port, key = self.cfg["port"], self.cfg["site_key"]
        url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        opts = dict(compression=None, ping_interval=None, max_size=2**20)
        operators = []
        for email in self.cfg["operator_emails"]:
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
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(self.cfg["visitors"]):
                response = await http.post(f"/api/widget/v1/sites/{key}/visitors",
                                           json={"token": None}, headers={"Origin": SITE_ORIGIN})
                response.raise_for_status()
                tokens.append(response.json()["token"])
        visitors = []
        for token in tokens:
            ws = await websockets.connect(f"{ws_url}/ws/visitor?site={key}", origin=SITE_ORIGIN, **opts)
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
            welcome = json.loads(await ws.recv())
            if welcome["type"] != "welcome":
                raise RuntimeError(f"visitor hello refused: {welcome}")
            visitors.append(ws)
        return visitors, operators

    # -- run -------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        connect = self.connect_bare if cfg["target"] == "bare" else self.connect_frontdesk
        visitors, operators = await asyncio.wait_for(connect(), 60)
        tasks = [asyncio.create_task(self.operator_reader(ws)) for ws in operators]
        rate = cfg["rate"]
        for ws in visitors:
            window = asyncio.Semaphore(cfg["window"])
            outstanding = [0]
            tasks.append(asyncio.create_task(self.visitor_reader(ws, window, outstanding)))
            if rate > 0:
                interval = len(visitors) / rate
                tasks.append(asyncio.create_task(self.visitor_rate_sender(ws, interval, outstanding)))
            else:
                tasks.append(asyncio.create_task(self.visitor_window_sender(ws, window, outstanding)))

        t0 = time.perf_counter_ns()
        self.window_start = t0 + int(cfg["warmup"] * 1e9)
        self.window_end = self.window_start + int(cfg["seconds"] * 1e9)
        await asyncio.sleep(cfg["warmup"])
        server_pid = cfg.get("server_pid")
        cpu0 = (proc_cpu_seconds(os.getpid()), proc_cpu_seconds(server_pid) if server_pid else None, system_cpu())
        w0 = time.perf_counter()
        await asyncio.sleep(max(0.0, (self.window_end - time.perf_counter_ns()) / 1e9))
        cpu1 = (proc_cpu_seconds(os.getpid()), proc_cpu_seconds(server_pid) if server_pid else None, system_cpu())
        wall = time.perf_counter() - w0
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
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in visitors + operators), return_exceptions=True)

        busy = cpu1[2][0] - cpu0[2][0]
        steal = cpu1[2][1] - cpu0[2][1]
        total = cpu1[2][2] - cpu0[2][2]
        ncpu = os.cpu_count() or 1
        gen_cpu = (cpu1[0] - cpu0[0]) / wall * 100 if cpu0[0] is not None and cpu1[0] is not None else None
        srv_cpu = (cpu1[1] - cpu0[1]) / wall * 100 if cpu0[1] is not None and cpu1[1] is not None else None
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
            "errors": self.errors,
            "error_count": sum(self.errors.values()),
            # sent in the window but not finished within the drain time (a backlog, not a failure)
            "unfinished_after_drain": unfinished,
            "unfinished_count": max(unfinished.values()),
            "skipped_sends": self.skipped,
            "total_sent": self.total_sent,
            "total_acked": self.total_acked,
            "cpu_pct_of_one_core": {"generator": r(gen_cpu, 1), "server": r(srv_cpu, 1),
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
        proc = subprocess.Popen([sys.executable, __file__, "--generate", str(cfg_path), "--out", str(out)])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"generator did not finish within {timeout:.0f}s")
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"generator failed with exit code {proc.returncode}")
        return json.loads(out.read_text())


def frontdesk_bin() -> list[str]:
    exe = Path(sys.executable).parent / "frontdesk"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "server.cli"]


def frontdesk_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(FRONTDESK_DATA_DIR=str(data_dir), FRONTDESK_LOG_LEVEL="warning",
               FRONTDESK_LOGIN_ATTEMPTS_PER_MINUTE="100000")
    env.update({"FRONTDESK_" + k.upper(): v for k, v in settings.items()})
    return env


# Frontdesk variants: extra settings per target name (the default is durable: synchronous=FULL).
FRONTDESK_VARIANTS = {"frontdesk": {}, "frontdesk-sync-off": {"sqlite_synchronous": "OFF"}}


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


def run_target(target: str, args: argparse.Namespace, rate: float, tmp: Path,
               template: tuple[Path, str, list[str]] | None, run_no: int) -> dict[str, Any]:
    port = free_port()
    cfg: dict[str, Any] = {
        "target": target, "port": port, "visitors": args.visitors, "operators": args.operators,
        "seconds": args.seconds, "warmup": args.warmup, "window": args.window, "rate": rate,
        "max_outstanding": args.window * 4, "drain": 10.0,
    }
    log_path = tmp / f"run{run_no}-{target}.log"
    log = open(log_path, "wb")
    data_dir = None
    if target == "bare":
        proc = subprocess.Popen([sys.executable, __file__, "--serve-bare", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(port, proc)
    else:
        assert template is not None
        data_dir = tmp / f"run{run_no}-data"
        shutil.copytree(template[0], data_dir)
        proc = subprocess.Popen(frontdesk_bin() + ["serve", "--port", str(port)],
                                env=frontdesk_env(data_dir, **FRONTDESK_VARIANTS[target]),
                                stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        cfg.update(site_key=template[1], operator_emails=template[2])
    log.close()
    cfg["server_pid"] = proc.pid
    try:
        result = run_generator(cfg, timeout=args.warmup + args.seconds + 90)
    finally:
        alive = proc.poll() is None
        stop_process(proc)
    result["server_alive_at_end"] = alive
    server_log = "\n".join(line for line in log_path.read_text(errors="replace").splitlines()
                           if line.strip() and not line.startswith("database schema at revision"))
    if server_log:
        result["server_log_tail"] = server_log[-2000:]
    if data_dir is not None:
        result["stored_rows"] = count_rows(data_dir / "frontdesk.db") if (data_dir / "frontdesk.db").exists() \
            else {p.name: count_rows(p) for p in data_dir.glob("*.db")}
        stored = result["stored_rows"].get("messages")
        if isinstance(stored, int) and stored < result["total_acked"]:
            result["errors"]["acked_but_not_stored"] = result["total_acked"] - stored
            result["error_count"] = sum(result["errors"].values())
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


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
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
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
    if args.rate <= 0:
        for fixed in (float(x) for x in str(args.fixed_rate).split(",") if x.strip()):
            if fixed > 0:
                plan += [("bare", fixed), ("frontdesk", fixed)]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--operators", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per run (after warm-up).")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=0,
                        help="Total msg/s for the main runs; 0: saturate with --window un-acked per visitor.")
    parser.add_argument("--window", type=int, default=4, help="Un-acked messages per visitor when saturating.")
    parser.add_argument("--fixed-rate", default="100,1000",
                        help="Also run both targets at these total msg/s, comma-separated (0: skip; "
                             "ignored with --rate). Default: 100,1000.")
    parser.add_argument("--repeat", type=int, default=1, help="Interleaved rounds.")
    parser.add_argument("--sync-off-control", action="store_true",
                        help="Also run Frontdesk with FRONTDESK_SQLITE_SYNCHRONOUS=OFF (not durable across power "
                             "loss), to see what the disk sync costs.")
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
    return main_bench(args)


if __name__ == "__main__":
    sys.exit(main())
