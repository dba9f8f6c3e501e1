"""Webhook benchmark: how fast stored events reach a receiver, on one and two nodes.

    .venv/bin/python bench/webhooks.py [--rates 100,300] [--seconds 10] [--visitors 20]
                                       [--drain-rate 300] [--targets sqlite-1,pg-redis-1,pg-redis-2]

One invocation, 127.0.0.1 only, every loop bounded. A **receiver** (this file,
``--receiver``: uvicorn, answers 204 at once, records each webhook's arrival time) runs
in its own process. For each target, visitors send chat messages at a fixed total rate
(open loop) for ``--seconds``; every message is acked (stored) by Frontdesk, which then
sends a ``message.created`` webhook. Reported per target and rate:

* **acked msg/s**: messages stored per second (below the offered rate: the chat path
  itself is saturated, and webhooks cannot go faster);
* **webhooks/s**: message webhooks received over the time from the first send to the
  last arrival (below the acked rate: the senders fell behind);
* **ack → webhook p50/p99**: from a message's ack at the visitor to its webhook at the
  receiver (both clocks are this machine's ``time.time()``);
* **missing** / **repeated**: acked messages whose webhook never came within the drain
  time, and webhook-ids that arrived more than once.

Then a **drain** run per target: the receiver holds every request while ``--drain-rate``
msg/s are sent for ``--seconds``, so the deliveries pile up in the database; once all are
acked it lets go, and webhooks / (last arrival - release) is the senders' top speed.
Its **baseline**, run first and last in the same invocation, is a bare sender: this
process posting as many signed requests to the same receiver with aiohttp at the same
concurrency (16), nothing stored or leased. Targets: SQLite one node; PostgreSQL +
Redis one node; two nodes (visitor *i* on node *i* mod 2). PostgreSQL and Redis as for
``bench/relay.py --scale-out``. Result: bench/results/webhooks-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import relay as R  # the relay benchmark's process, database and table helpers

RESULTS = R.RESULTS
TARGETS = {"sqlite-1": 1, "pg-redis-1": 1, "pg-redis-2": 2}
LABELS = {"bare": "bare sender", "sqlite-1": "SQLite, 1 node", "pg-redis-1": "PG + Redis, 1 node",
          "pg-redis-2": "PG + Redis, 2 nodes"}
CONCURRENCY = 16  # FRONTDESK_WEBHOOK_CONCURRENCY's default (--concurrency); the bare sender uses the same


# --------------------------------------------------------------------------- receiver


def serve_receiver(port: int) -> None:
    """204 for every POST; GET /records returns what arrived (and forgets it); GET /hold
    makes POSTs wait until GET /release."""
    import uvicorn

    records: list[list[Any]] = []
    gate = asyncio.Event()
    gate.set()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            if scope["path"] in ("/hold", "/release"):
                gate.clear() if scope["path"] == "/hold" else gate.set()
            payload = json.dumps(records if scope["path"] == "/records" else []).encode()
            if scope["path"] == "/records":
                records.clear()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": payload})
            return
        await gate.wait()
        arrived = time.time()
        headers = dict(scope["headers"])
        data = json.loads(body)
        client_id = data["data"]["message"]["client_id"] if data["type"] == "message.created" else None
        records.append([arrived, headers.get(b"webhook-id", b"").decode(), data["type"], client_id])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def fetch_records(receiver_url: str, path: str = "/records") -> list[list[Any]]:
    import httpx

    async with httpx.AsyncClient() as http:
        return (await http.get(receiver_url + path, timeout=30)).json()


# --------------------------------------------------------------------------- load


async def drive(ports: list[int], site_key: str, receiver_url: str, visitors: int, rate: float,
                seconds: float, drain: float, hold: bool) -> dict[str, Any]:
    """Visitors send ``rate`` msg/s in total for ``seconds``; then wait for the webhooks.

    ``hold``: the receiver holds every request until all messages are acked, so the
    deliveries pile up; then it lets go and the drain rate is the senders' top speed."""
    import httpx
    import websockets

    acked: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    sockets = []
    async with httpx.AsyncClient() as http:
        for i in range(visitors):
            port = ports[i % len(ports)]
            response = await http.post(f"http://127.0.0.1:{port}/api/widget/v1/sites/{site_key}/visitors",
                                       json={}, headers={"Origin": R.SITE_ORIGIN}, timeout=30)
            token = response.json()["token"]
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor?site={site_key}",
                                          origin=R.SITE_ORIGIN, close_timeout=1)  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
            json.loads(await asyncio.wait_for(ws.recv(), 10))
            sockets.append(ws)

    async def read_acks(ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "ack" and frame.get("id") in sent_at:
                acked.setdefault(frame["id"], time.time())

    readers = [asyncio.create_task(read_acks(ws)) for ws in sockets]
    await fetch_records(receiver_url)  # forget earlier runs' leftovers
    if hold:
        await fetch_records(receiver_url, "/hold")
    total = int(rate * seconds)
    started = time.time()
    loop_start = time.monotonic()
    for n in range(total):
        delay = loop_start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        client_id = uuid.uuid4().hex
        sent_at[client_id] = time.time()
        await sockets[n % len(sockets)].send(json.dumps({"type": "message.send", "id": client_id, "body": f"m{n}"}))
    send_seconds = time.time() - started
    released = None
    if hold:
        deadline = time.monotonic() + drain
        while len(acked) < total and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        released = time.time()
        await fetch_records(receiver_url, "/release")

    records: list[list[Any]] = []
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        records += await fetch_records(receiver_url)
        if sum(1 for r in records if r[3] in sent_at) >= total and len(acked) >= total:
            break
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()

    arrivals = {}
    ids: dict[str, int] = {}
    for arrived, webhook_id, _type, client_id in records:
        ids[webhook_id] = ids.get(webhook_id, 0) + 1
        if client_id in sent_at:
            arrivals.setdefault(client_id, arrived)
    latencies = [(arrivals[c] - acked[c]) * 1000 for c in arrivals if c in acked]
    last = max((arrivals[c] for c in arrivals), default=started)
    if released is not None:
        return {
            "mode": "drain", "offered_per_s": rate, "sent": total, "acked": len(acked),
            "message_webhooks": len(arrivals), "webhooks_total": len(records),
            "webhooks_per_s": round(len(records) / max(last - released, 1e-9), 1),
            "missing": len([c for c in acked if c not in arrivals]),
            "repeated_ids": sum(1 for count in ids.values() if count > 1),
        }
    last_ack = max(acked.values(), default=started)
    return {
        "mode": "rate", "acked_per_s": round(len(acked) / max(last_ack - started, 1e-9), 1),
        "offered_per_s": rate, "sent": total, "acked": len(acked), "send_seconds": round(send_seconds, 2),
        "message_webhooks": len(arrivals), "webhooks_total": len(records),
        "webhooks_per_s": round(len(arrivals) / max(last - started, 1e-9), 1),
        "ack_to_webhook_ms": {"p50": R.percentile(latencies, 50), "p99": R.percentile(latencies, 99)},
        "missing": len([c for c in acked if c not in arrivals]),
        "repeated_ids": sum(1 for count in ids.values() if count > 1),
    }


async def bare_sender(receiver_url: str, count: int) -> dict[str, Any]:
    """The same signed POSTs from this process with the same client library (aiohttp) and
    concurrency as Frontdesk's sender: no database, no leases."""
    import aiohttp
    from standardwebhooks import Webhook

    signer = Webhook("whsec_" + "A" * 43)
    pending = list(range(count))

    async def worker(session: aiohttp.ClientSession) -> None:
        while pending:
            n = pending.pop()
            body = json.dumps({"type": "message.created", "timestamp": R.now_iso(),
                               "data": {"event_id": n, "message": {"client_id": f"bare{n}", "body": f"m{n}"}}})
            now = datetime.now().astimezone()
            msg_id = f"evt_{n}"
            async with session.post(receiver_url + "/hook", data=body.encode(), headers={
                    "content-type": "application/json", "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(msg_id, now, body)}) as response:
                await response.read()

    await fetch_records(receiver_url)
    started = time.time()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    elapsed = time.time() - started
    records = await fetch_records(receiver_url)
    return {"sent": count, "message_webhooks": len(records), "webhooks_per_s": round(len(records) / elapsed, 1)}


# --------------------------------------------------------------------------- targets


def run_target(target: str, args: argparse.Namespace, rate: float, tmp: Path, receiver_url: str,
               run_no: int, hold: bool = False) -> dict[str, Any]:
    procs: list[subprocess.Popen[bytes]] = []
    db_name = redis_prefix = None
    data_dir = tmp / f"run{run_no}-data"
    data_dir.mkdir()
    settings: dict[str, str] = {"webhook_allow_private_networks": "1", "secret_key": uuid.uuid4().hex * 2,
                                "webhook_concurrency": str(args.concurrency)}
    if hold:  # held requests must not time out: a retry would be counted as a repeat
        settings.update(webhook_timeout_seconds=str(int(args.drain) * 2), worker_lease_seconds=str(int(args.drain) * 3))
    try:
        if target != "sqlite-1":
            db_name = R.create_scratch_database(args.pg_admin_url)
            redis_prefix = f"fd-bench-{uuid.uuid4().hex[:10]}:"
            settings.update(database_url=R.pg_url(args.pg_admin_url, db_name), redis_url=args.redis_url,
                            redis_prefix=redis_prefix)
        env = R.frontdesk_env(data_dir, **settings)
        site_key, _ = R.setup_database(env, 0, tmp)
        subprocess.run(R.frontdesk_bin() + ["create-webhook", site_key, receiver_url + "/hook"], env=env, cwd=tmp,
                       capture_output=True, text=True, check=True, timeout=60)
        ports = []
        for k in range(TARGETS[target]):
            port = R.free_port()
            with open(tmp / f"run{run_no}-{target}-node{k}.log", "wb") as log:
                procs.append(R.start_process(R.frontdesk_bin() + ["serve", "--port", str(port)], env=env,
                                             stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
            R.wait_for_http(f"http://127.0.0.1:{port}/healthz", procs[-1])
            ports.append(port)
        result = asyncio.run(drive(ports, site_key, receiver_url, args.visitors, rate, args.seconds, args.drain,
                                   hold))
        result["nodes_alive_at_end"] = all(p.poll() is None for p in procs)
        return result
    finally:
        for proc in procs:
            R.stop_tracked(proc)
        if db_name is not None:
            R.drop_scratch_database(args.pg_admin_url, db_name)
        if redis_prefix is not None:
            R.redis_delete_prefix(args.redis_url, redis_prefix)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,300", help="Offered msg/s in total, comma-separated.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Seconds of sending per run.")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--drain", type=float, default=60.0, help="Most seconds to wait for the last webhooks.")
    parser.add_argument("--drain-rate", type=float, default=300.0,
                        help="Offered msg/s while the receiver holds requests (backlog = this x --seconds).")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"Of: {', '.join(TARGETS)}.")
    parser.add_argument("--pg-admin-url", default=os.environ.get("FRONTDESK_BENCH_PG_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis-url", default=os.environ.get("FRONTDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--concurrency", type=int, default=16,
                        help="FRONTDESK_WEBHOOK_CONCURRENCY of the nodes, and the bare sender's concurrency.")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.port)
        return 0
    global CONCURRENCY
    CONCURRENCY = args.concurrency
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    rates = [float(r) for r in args.rates.split(",") if r]
    if any(t != "sqlite-1" for t in targets):
        R.check_services(args)
    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    port = R.free_port()
    receiver = R.start_process([sys.executable, __file__, "--receiver", "--port", str(port)])
    receiver_url = f"http://127.0.0.1:{port}"
    backlog = int(args.drain_rate * args.seconds)

    def bare() -> None:
        result = asyncio.run(bare_sender(receiver_url, backlog))
        runs.append({"target": "bare", "mode": "drain", **result})
        print(f"[{time.monotonic() - started:5.1f}s] bare sender: {result['webhooks_per_s']:,.0f}/s", flush=True)

    try:
        R.wait_for_port(port, receiver)
        with tempfile.TemporaryDirectory(prefix="fd-bench-hooks-") as tmp_name:
            tmp = Path(tmp_name)
            n = 0
            bare()
            for target in targets:
                for rate in [*rates, None]:
                    n += 1
                    hold = rate is None
                    result = run_target(target, args, args.drain_rate if hold else rate, tmp, receiver_url, n, hold)
                    runs.append({"target": target, **result})
                    what = f"drain of {result['sent']:,} messages" if hold else f"{rate:g} msg/s"
                    latency = "" if hold else (f", ack→webhook p99 {R.fmt(result['ack_to_webhook_ms']['p99'], 1)} ms")
                    print(f"[{time.monotonic() - started:5.1f}s] {LABELS[target]}, {what}: "
                          f"{result['webhooks_per_s']:,.0f} webhooks/s{latency}, missing {result['missing']}, "
                          f"repeated {result['repeated_ids']}", flush=True)
            bare()
    finally:
        R.stop_tracked(receiver)
        for proc in list(R._LIVE):
            R.stop_tracked(proc)
    if any(r["mode"] == "rate" for r in runs):
        print("\nAt a fixed offered load (open loop):")
        R.print_columns(
            ["target", "offered msg/s", "acked msg/s", "webhooks/s", "ack→webhook p50 ms", "p99 ms", "missing",
             "repeated"],
            [[LABELS[r["target"]], f"{r['offered_per_s']:g}", f"{r['acked_per_s']:,.0f}", f"{r['webhooks_per_s']:,.0f}",
              R.fmt(r["ack_to_webhook_ms"]["p50"], 1), R.fmt(r["ack_to_webhook_ms"]["p99"], 1), str(r["missing"]),
              str(r["repeated_ids"])] for r in runs if r["mode"] == "rate"])
    bare_rates = [r["webhooks_per_s"] for r in runs if r["target"] == "bare"]
    bare_mean = sum(bare_rates) / len(bare_rates)
    print(f"\nDraining a backlog (the receiver held every request until all {backlog:,} messages were acked):")
    R.print_columns(
        ["target", "webhooks", "webhooks/s", "vs bare sender", "missing", "repeated"],
        [[LABELS[r["target"]], f"{r['message_webhooks'] if r['target'] == 'bare' else r['webhooks_total']:,}",
          f"{r['webhooks_per_s']:,.0f}", f"{r['webhooks_per_s'] / bare_mean:.2f}x", str(r.get("missing", "–")),
          str(r.get("repeated_ids", "–"))] for r in runs if r["mode"] == "drain"])
    out = RESULTS / f"webhooks-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({
        "command": " ".join(["bench/webhooks.py", *sys.argv[1:]]), "started": R.now_iso(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("receiver", "port")},
        "runs": runs, "elapsed_s": round(time.monotonic() - started, 1),
    }, indent=2))
    print(f"\nresult: {out.relative_to(R.ROOT)}")
    return 1 if any(r.get("missing") or r.get("repeated_ids") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
