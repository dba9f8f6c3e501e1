"""The relay benchmark's process helpers: ports, CPU counters, starting and stopping processes.

Shared by bench/relay.py and its parts (relay_load, relay_targets), bench/relay_memory.py and
bench/webhooks.py. Every process started through ``start_process`` is tracked, so the entry
point can stop whatever is left after an error or Ctrl-C.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def _other_database(pid: int, database: str | None) -> bool:
    """A PostgreSQL backend of another database than ``database`` (another session's tests
    or benchmarks on a shared server): not this run's. Background processes (WAL writer,
    checkpointer, ...) name no database and count for every run."""
    if database is None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True
    connected = "(" in title or "[local]" in title or "autovacuum worker" in title
    return connected and f" {database} " not in title


def infra_cpu_seconds(database: str | None = None) -> dict[str, dict[int, float]]:
    """CPU seconds of every PostgreSQL and Redis process on the machine, by pid; with
    ``database``, of PostgreSQL only its backends and the background processes."""
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
            if comm == "postgres" and _other_database(int(entry.name), database):
                continue
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


# Everything this process started and has not stopped yet: stopped in main's `finally`.
_LIVE: list[subprocess.Popen[bytes]] = []


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
