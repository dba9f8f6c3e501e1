"""Size budgets of what the visitor's browser loads, raw and gzip (level 9).

    python bench/sizes.py

embed.js is on every page of every customer site, so it must stay tiny; the panel set is
what opening the chat loads. Exits 1 when a budget is exceeded (a CI check, in the manner
of Plausible's tracker/report-sizes.js and emoji-picker-element's bin/bundlesize.js).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (files, gzip budget in bytes)
BUDGETS: dict[str, tuple[list[str], int]] = {
    # 2 KB until the widget's accessibility work (issue 21): the phone's scroll lock and
    # visual-viewport fit cost ~110 bytes after the badge moved to the panel (docs/benchmarks.md).
    "embed.js": (["embed.js"], 2304),
    "panel (html+js+css+en.json)": (
        ["widget/panel.html", "widget/plural.js", "widget/prechat.js", "widget/panel.js", "widget/panel.css", "widget/i18n/en.json"],
        40960,
    ),
}


def gzip_size(data: bytes) -> int:
    # mtime=0: the same bytes give the same size on every run.
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> int:
    failed = False
    print(f"{'':34} {'raw':>8} {'gzip':>8} {'budget':>8}")
    for name, (files, budget) in BUDGETS.items():
        raw = gz = 0
        for file in files:
            data = (ROOT / file).read_bytes()
            raw += len(data)
            gz += gzip_size(data)  # each file is its own response
            if len(files) > 1:
                print(f"  {file:32} {len(data):8} {gzip_size(data):8}")
        over = gz > budget
        failed |= over
        print(f"{name:34} {raw:8} {gz:8} {budget:8}  {'OVER BUDGET' if over else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
