"""The relay benchmark's report: the tables, the warnings and the medians over rounds.

Reads only the runs' result dicts (bench/relay_load.py's ``Generator.run`` plus the
round and what bench/relay_targets.py adds), so a saved result JSON can be re-printed.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from relay_proc import ROOT
from relay_targets import SCALE_OUT_TARGETS, TARGET_LABELS


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


# --------------------------------------------------------------------------- figures with ratios


def _spread(values: list[float], nd: int) -> dict[str, Any] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), nd), "min": round(min(values), nd),
            "max": round(max(values), nd), "n": len(values)}


def server_us_per_message(run: dict[str, Any]) -> float | None:
    """Server CPU a message: the nodes' CPU (plus PostgreSQL's and Redis' for scale-out targets) ÷ acked msg/s."""
    cpu, acked = run["cpu_pct_of_one_core"], run["acked_per_s"]
    if cpu["server"] is None or not acked:
        return None
    total = cpu["server"]
    if run["target"] in SCALE_OUT_TARGETS:
        total += (cpu.get("postgres") or 0) + (cpu.get("redis") or 0)
    return total / 100 / acked * 1e6


FIGURES: list[tuple[str, str, Any, int]] = [
    # (key, label, value of one run, decimals)
    ("acked_msg_s", "acked msg/s", lambda r: r["acked_per_s"], 0),
    ("delivery_p99_ms", "delivery p99 ms", lambda r: r["delivery_ms"]["p99"], 2),
    ("ack_p99_ms", "ack p99 ms", lambda r: r["ack_ms"]["p99"], 2),
    ("server_us_per_msg", "server CPU µs a message", server_us_per_message, 0),
]


def figures(runs: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
    """Each figure per load and target: median and spread over rounds, and its ratio to the bare
    relay and to SQLite on one node *in the same round* (a busy machine moves both alike)."""
    ok = [r for r in runs if "failed" not in r]
    by_key = {(r["round"], r["mode"], r["target"]): r for r in ok}
    out: dict[str, Any] = {}
    for mode in dict.fromkeys(r["mode"] for r in runs):
        entry: dict[str, Any] = {}
        for target in targets:
            mine = [r for r in ok if r["target"] == target and r["mode"] == mode]
            per_figure: dict[str, Any] = {}
            for key, _, value, nd in FIGURES:
                values = [v for v in map(value, mine) if v is not None]
                ratios: dict[str, list[float]] = {"bare": [], "frontdesk": []}
                for r in mine:
                    v = value(r)
                    for base in ratios:
                        other = by_key.get((r["round"], mode, base))
                        b = value(other) if other is not None and base != target else None
                        if v is not None and b:
                            ratios[base].append(v / b)
                per_figure[key] = {"value": _spread(values, nd), "vs_bare": _spread(ratios["bare"], 3),
                                   "vs_sqlite_1_node": _spread(ratios["frontdesk"], 3)}
            entry[target] = per_figure
        out[mode] = entry
    return out


def _cell(s: dict[str, Any] | None, nd: int, suffix: str = "") -> str:
    if not s:
        return "-"
    if s["n"] == 1 or s["min"] == s["max"]:
        return f"{fmt(float(s['median']), nd)}{suffix}"
    return f"{fmt(float(s['median']), nd)}{suffix} ({fmt(float(s['min']), nd)}–{fmt(float(s['max']), nd)})"


def print_figures(result: dict[str, Any]) -> None:
    print()
    print("each figure: median over rounds (min–max); ratios are taken within a round, then the median:")
    rows = []
    for mode, entry in result.items():
        for key, label, _, nd in FIGURES:
            for target, per_figure in entry.items():
                f = per_figure[key]
                if not f["value"]:
                    continue
                rows.append([mode, label, TARGET_LABELS.get(target, target), _cell(f["value"], nd),
                             _cell(f["vs_bare"], 2, "x"), _cell(f["vs_sqlite_1_node"], 2, "x")])
    if rows:
        print_columns(["load", "figure", "target", "value", "vs bare relay", "vs SQLite, 1 node"], rows)
