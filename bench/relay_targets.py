"""The relay benchmark's targets: how each server under test is set up, run and torn down.

* **bare**: bench/relay_bare.py in its own process;
* **frontdesk** (and its variants: sync=OFF, with page views): ``frontdesk serve`` on SQLite,
  on a fresh copy of a template data dir (the site and operators made once with the CLI);
* **pg-redis-1**, **pg-redis-2**: one or two ``frontdesk serve`` on a scratch PostgreSQL
  database and one Redis key prefix (both removed afterwards); **pg-redis-1-control**: one
  node with the ``--control`` settings.

``run_target`` starts a target, runs the load generator against it (bench/relay_load.py),
stops it and checks that every acked message was stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import relay_bare
from relay_load import OPERATOR_PASSWORD, SITE_ORIGIN, run_generator
from relay_proc import _LIVE, free_port, start_process, stop_tracked, wait_for_http, wait_for_port

# Scratch PostgreSQL databases not dropped yet: dropped by cleanup_all after an error.
_SCRATCH_DATABASES: set[str] = set()


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
                      "frontdesk-pages": {"visitor_pages_per_minute": "10000000"},
                      "frontdesk-control": {}}  # --control SETTING=VALUE (and --hold-control MS)


def variant_settings(target: str, args: argparse.Namespace) -> dict[str, str]:
    settings = dict(FRONTDESK_VARIANTS.get(target, {}))
    if target.endswith("-control"):  # frontdesk-control, pg-redis-1-control
        for item in args.control:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise SystemExit(f"--control {item!r}: expected SETTING=VALUE, e.g. commit_on_loop_ms=0")
            settings[name.strip().lower()] = value.strip()
    return settings


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
SCALE_OUT_TARGETS = {"pg-redis-1": 1, "pg-redis-2": 2, "pg-redis-1-control": 1}  # the last: with --control
TARGET_LABELS = {"bare": "bare relay", "bare-durable": "bare + SQLite commit",
                 "bare-spine": "bare + Frontdesk's rows", "frontdesk": "SQLite, 1 node", "frontdesk-sync-off": "SQLite sync=OFF",
                 "frontdesk-pages": "SQLite + page views", "frontdesk-control": "SQLite, control",
                 "pg-redis-1": "PG + Redis, 1 node", "pg-redis-2": "PG + Redis, 2 nodes",
                 "pg-redis-1-control": "PG, 1 node, control"}


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
        if target in ("bare", "bare-durable", "bare-spine"):
            port = free_port()
            log_paths.append(tmp / f"run{run_no}-{target}.log")
            durable = [] if target == "bare" else ["--durable", str(tmp / f"run{run_no}-bare.db"),
                                                   "--rows", "spine" if target == "bare-spine" else "message"]
            with open(log_paths[-1], "wb") as log:
                procs.append(start_process([sys.executable, relay_bare.__file__, "--port", str(port), *durable],
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
                                           env=frontdesk_env(data_dir, **variant_settings(target, args)),
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
                                secret_key=uuid.uuid4().hex + uuid.uuid4().hex,  # the same on every node
                                **variant_settings(target, args))
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
            cfg.update(site_key=site_key, operator_emails=emails, pg_database=db_name)  # its PostgreSQL CPU only
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


def cleanup_all(args: argparse.Namespace) -> None:
    """Stop whatever is still running and drop leftover scratch databases (errors, Ctrl-C)."""
    for proc in list(_LIVE):
        stop_tracked(proc)
    for name in list(_SCRATCH_DATABASES):
        try:
            drop_scratch_database(args.pg_admin_url, name)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: could not drop scratch database {name}: {exc}")
