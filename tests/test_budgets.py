"""What the widget costs the host page, in bytes (bench/sizes.py prints the report)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_widget_size_budgets_hold() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "sizes.py")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
