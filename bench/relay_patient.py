"""``bench/relay.py`` with patient set-up, for a machine loaded by other work.

    .venv/bin/python bench/relay_patient.py --scale-out --no-bare --repeat 3 --fixed-rate 0

Same arguments, targets, generator and report as ``bench/relay.py``; only the set-up
waits longer: the PostgreSQL runs' CLI steps (migrate, create-site, create-operator)
run one at a time with 10 minutes each instead of in parallel with 60 s, and a node
gets 5 minutes to answer /healthz instead of 30 s. On a 2-core machine shared with
other benchmarks (load average 30-50) those limits killed every PostgreSQL set-up; the
measured window itself is unchanged.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import relay  # noqa: E402 - bench/relay.py, next to this file
import relay_targets  # noqa: E402 - where the set-up lives since the split

SETUP_SECONDS = 600.0
HTTP_SECONDS = 300.0


def patient_setup_database(env: dict[str, str], operators: int, cwd: Path) -> tuple[str, list[str]]:
    """``relay.setup_database``, one command at a time, each with ``SETUP_SECONDS``."""

    def run(cmd: list[str], what: str) -> str:
        done = subprocess.run(relay_targets.frontdesk_bin() + cmd, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=SETUP_SECONDS)
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout[-1000:]}")
        return done.stdout

    run(["migrate"], "frontdesk migrate")
    out = run(["create-site", "Bench", "--origin", relay_targets.SITE_ORIGIN], "create-site")
    emails = [f"op{i + 1}@bench.example.com" for i in range(operators)]
    for email in emails:
        run(["create-operator", email, "--password", relay_targets.OPERATOR_PASSWORD], f"create-operator {email}")
    match = re.search(r"^key: (\S+)", out, re.M)
    if not match:
        raise RuntimeError(f"no site key in: {out!r}")
    return match.group(1), emails


_wait_for_http = relay_targets.wait_for_http


def patient_wait_for_http(url: str, process: Any, timeout: float = HTTP_SECONDS) -> None:
    _wait_for_http(url, process, timeout=max(timeout, HTTP_SECONDS))


relay_targets.setup_database = patient_setup_database
relay_targets.wait_for_http = patient_wait_for_http

if __name__ == "__main__":
    sys.exit(relay.main())
