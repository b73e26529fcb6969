"""Results JSON -> Markdown tables with Horae/peer ratios, goals, and the chart (PNG).

    python -m bench report [bench/results/latest.json]

The chart is drawn by ``bench/chart.py`` with matplotlib from the ``plot`` venv (a
bench-only tool, never a dependency of ``horae``).
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import envs

HORAE = ("horae-sqlite", "horae-postgres")
# Horae as one `horae server` process (scheduler + worker): sustained load, run start
SERVER = ("horae-sqlite-server", "horae-postgres-server")

# workload -> (title, what is measured, columns, ratio metrics, better when)
WORKLOADS: dict[str, tuple[str, str, list[str], list[str], str]] = {
    "burst": ("1. Fire burst", "N schedules all due at once; fires/s until every run row "
              "(job row, broker message) exists.",
              ["fires_per_s", "seconds"], ["fires_per_s"], "higher"),
    "sustained": ("2. Sustained load and lateness", "Interval schedules spread evenly over a "
                  "10 s period; lateness = handed to execution - due instant (for "
                  "horae-*-server: the run's start in a scheduler+worker process); CPU of the "
                  "scheduler process over the window.",
                  ["fires_per_s", "lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms",
                   "cpu_s", "cpu_pct", "done_ratio"], ["lateness_p99_ms", "cpu_s"], "lower"),
    "catalogue": ("3. Large catalogue", "Schedules spread over a day, none due while "
                  "measured; a fresh scheduler process: start-up to its first pass, resident "
                  "memory, CPU while idle.",
                  ["startup_s", "rss_mb", "idle_cpu_pct"],
                  ["startup_s", "rss_mb", "idle_cpu_pct"], "lower"),
    "edit": ("4. Edit to effect", "Another process moves one schedule to fire in 1 s; "
             "actual - intended (run/job row created, or message published).",
             ["p50_ms", "p99_ms", "max_ms", "samples"], ["p99_ms"], "lower"),
    "drain": ("5. Drain throughput", "N queued no-op runs drained by worker processes; "
              "runs/s from the first completion to the last; worker CPU per 1,000 runs.",
              ["runs_per_s", "cpu_s_per_1000", "measured_runs"],
              ["runs_per_s", "cpu_s_per_1000"], "mixed"),
    "pickup": ("6. Pickup latency", "Runs arriving at a steady rate on an idle worker; "
               "queued -> started.", ["p50_ms", "p99_ms", "max_ms", "samples"],
               ["p99_ms"], "lower"),
    "polling": ("7. Polling (seed 004)", "N interval schedules of 30-60 s (quick: 6-12 s) "
                "with random phase; an async task awaits 20 ms and removes its own schedule "
                "once its order settled (after 4-12 periods); one `horae server -c 128` "
                "process, APScheduler 3 (AsyncIOScheduler + RedisJobStore) in one process, "
                "Celery beat + redbeat with one `celery worker --pool threads -c 128`. "
                "Offered = the trigger instants due in the window up to each removal; "
                "lateness = run start - due instant (a fire not started yet counts with its "
                "lateness so far); stall = longest time without a start; after_removal = "
                "runs created after their schedule removed itself (must be 0). Creation, "
                "resources and lateness per minute are in the tables below each size.",
                ["schedules", "fires_per_s_offered", "fires_per_s_fired", "runs_per_s_done",
                 "done_ratio", "lateness_p50_ms", "lateness_p99_ms", "lateness_max_ms",
                 "stall_s", "skipped", "missed", "removed", "after_removal"],
                ["runs_per_s_done", "lateness_p99_ms"], "mixed"),
}
# the polling workload's second table: creation while firing and resources
POLLING_RESOURCES = (["create_bulk_per_s", "create_single_per_s", "create_batch_per_s",
                      "cpu_s", "cpu_pct", "db_cpu_s", "rss_mb", "db_growth_mb", "deadlocks",
                      "messages_in_broker"],
                     ["create_single_per_s", "cpu_s", "rss_mb"])
LOWER_IS_BETTER = {"lateness_p99_ms", "cpu_s", "startup_s", "rss_mb", "idle_cpu_pct",
                   "p99_ms", "cpu_s_per_1000", "db_cpu_s"}

# (text, benchmark, metric, op, target, systems); burst, catalogue and drain goals hold
# at the sizes only (GOAL_SIZES)
GOAL_SIZES = {"burst": 100_000, "catalogue": 1_000_000, "drain-2w": 50_000,
              "drain-async-2w": 50_000}
GOALS = [
    ("fire burst on SQLite", "burst", "fires_per_s", ">=", 50_000, ["horae-sqlite"]),
    ("fire burst on PostgreSQL", "burst", "fires_per_s", ">=", 10_000, ["horae-postgres"]),
    ("lateness p99 at 10,000 fires/s", "sustained-100000", "lateness_p99_ms", "<=", 100, HORAE),
    ("lateness p99 at 1,000 fires/s", "sustained-10000", "lateness_p99_ms", "<=", 10, HORAE),
    ("run-start lateness p99 at 1,000 fires/s", "sustained-10000", "lateness_p99_ms", "<=",
     10, SERVER),
    ("1,000,000 schedules: start-up", "catalogue", "startup_s", "<=", 1.0, HORAE),
    ("1,000,000 schedules: RSS (MiB)", "catalogue", "rss_mb", "<=", 150, HORAE),
    ("1,000,000 schedules: idle CPU (%)", "catalogue", "idle_cpu_pct", "<=", 1.0, HORAE),
    ("edit to effect p99, 100,000 schedules", "edit-100000", "p99_ms", "<=", 50, HORAE),
    ("drain, two worker processes", "drain-2w", "runs_per_s", ">=", 10_000, HORAE),
    ("pickup p99 at 10/s on PostgreSQL", "pickup-10/s", "p99_ms", "<=", 20, ["horae-postgres"]),
    ("pickup p99 at 500/s on PostgreSQL", "pickup-500/s", "p99_ms", "<=", 20,
     ["horae-postgres"]),
    # issue #11 (seed 004): 100,000 self-removing polls at about 2,300 fires/s
    ("worker CPU per 1,000 async no-op runs (drain, 2 workers)", "drain-async-2w",
     "cpu_s_per_1000", "<=", 0.05, HORAE),
    ("polling 100,000: every fire done (started ÷ offered)", "polling-100000", "done_ratio",
     ">=", 0.999, HORAE),
    ("polling 100,000: run-start lateness p99 (ms)", "polling-100000", "lateness_p99_ms", "<=",
     1_000, HORAE),
    ("polling 100,000: no stall (longest time without a start, s)", "polling-100000",
     "stall_s", "<=", 1, HORAE),
    ("polling 100,000: deadlocks in the database", "polling-100000", "deadlocks", "<=", 0,
     ["horae-postgres"]),
    ("polling 100,000: runs after a self-removal", "polling-100000", "after_removal", "<=", 0,
     HORAE),
    ("polling 100,000: peak RSS (MiB)", "polling-100000", "rss_mb", "<=", 200, HORAE),
    ("polling 100,000: creation while firing, batch API (/s)", "polling-100000",
     "create_batch_per_s", ">=", 2_000, HORAE),
    ("polling 100,000: creation while firing, one at a time on PostgreSQL (/s)",
     "polling-100000", "create_single_per_s", ">=", 500, ["horae-postgres"]),
]


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(h: Any, p: Any) -> str:
    if not isinstance(h, (int, float)) or not isinstance(p, (int, float)) or p <= 0 or h < 0:
        return "n/a"
    r = h / p
    return f"{r:.3g}×" if r < 10 else f"{r:,.0f}×"


def table(doc: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """benchmark -> system -> {metric: value, "_note": ..., "_params": ...}"""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in doc["records"]:
        row = out[r["benchmark"]].setdefault(r["system"], {"_params": r.get("params", {}),
                                                          "_workload": r.get("workload")})
        row[r["metric"]] = r["value"]
        if r.get("note"):
            row["_note"] = r["note"]
    return out


def size_of(params: dict[str, Any]) -> str:
    parts = []
    if "n" in params:
        parts.append(f"{params['n']:,}")
    if "seconds" in params:
        parts.append(f"{params['seconds']} s")
    if "workers" in params:
        parts.append(f"{params['workers']} proc")
    if "rate" in params:
        parts.append(f"{params['rate']}/s × {params['samples']:,}")
    return ", ".join(parts)


def markdown(doc: dict[str, Any], chart_name: str | None) -> str:
    data = table(doc)
    m, v = doc["machine"], doc["versions"]
    lines = [f"# Benchmark results ({doc['mode']} run)", "",
             f"`{doc['command']}`, started {doc['started_at']}, {doc['wall_s'] / 60:.0f} min.",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; Python {m['python']}, "
             f"PostgreSQL {m['postgresql']}, Redis {m['redis']}, SQLite {m['sqlite']}. "
             f"Load average at start {fmt_load(m.get('load_average_at_start'))}, at end "
             f"{fmt_load(m.get('load_average_at_end'))} (a shared machine: other work ran "
             "alongside).",
             f"Horae {v.get('horae')} at {v.get('commit')}"
             f"{' (with uncommitted changes in src/)' if v.get('src_dirty') else ''}. "
             "Peers: " + "; ".join(
                 f"{env}: " + ", ".join(f"{k} {ver}" for k, ver in vs.items() if k != "python")
                 for env, vs in v.items() if isinstance(vs, dict) and vs and env != "plot")
             + ".", *(["Completed by: " + "; ".join(
                 f"`{r['command']}` ({r['started_at']})" for r in doc["merged_runs"]) + "."]
                 if doc.get("merged_runs") else []), ""]
    if chart_name:
        lines += [f"![lateness and throughput per system]({chart_name})", ""]
    lines += goals_md(data)
    for workload, (title, what, cols, ratio_cols, _) in WORKLOADS.items():
        benches = [b for b in data if any(r["_workload"] == workload for r in data[b].values())]
        if not benches:
            continue
        lines += [f"## {title}", "", what, ""]
        for bench in benches:
            rows = data[bench]
            present = [c for c in cols if any(c in r for r in rows.values())]
            head = ["system", "size", *present]
            for h in HORAE + SERVER:
                if h in rows:
                    head += [f"{h[len('horae-'):]}/peer {c}" for c in ratio_cols if c in present]
            head.append("note")
            lines += [f"### {bench}", "", "| " + " | ".join(head) + " |",
                      "|" + "---|" * len(head)]
            for system, row in rows.items():
                cells = [system, size_of(row["_params"]), *(fmt(row.get(c)) for c in present)]
                for h in HORAE + SERVER:
                    if h in rows:
                        for c in ratio_cols:
                            if c in present:
                                cells.append("—" if system.startswith("horae")
                                             else ratio(rows[h].get(c), row.get(c)))
                cells.append(str(row.get("_note", "")).replace("|", "/"))
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
            lines += EXTRA_TABLES.get(workload, lambda _rows: [])(rows)
        lines.append(ratio_hint(ratio_cols + EXTRA_RATIOS.get(workload, [])))
        lines.append("")
    return "\n".join(lines)


def polling_tables(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Creation and resources (with ratios), then lateness by due minute."""
    cols, ratio_cols = POLLING_RESOURCES
    present = [c for c in cols if any(c in r for r in rows.values())]
    horae = [h for h in HORAE if h in rows]
    head = ["system", *present, *(f"{h[len('horae-'):]}/peer {c}" for h in horae
                                  for c in ratio_cols if c in present)]
    lines = ["Creation while firing (per second) and resources over the window:", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, row in rows.items():
        cells = [system, *(fmt(row.get(c)) for c in present)]
        cells += ["—" if system.startswith("horae") else ratio(rows[h].get(c), row.get(c))
                  for h in horae for c in ratio_cols if c in present]
        lines.append("| " + " | ".join(cells) + " |")
    minutes = sorted({int(k.rsplit("_m", 1)[1]) for r in rows.values() for k in r
                      if k.startswith("lateness_p50_ms_m")})
    if minutes:
        lines += ["", "Run-start lateness by minute of the window (by due instant), "
                  "p50 / p99 / max in ms:", "",
                  "| system | " + " | ".join(f"minute {m}" for m in minutes) + " |",
                  "|" + "---|" * (len(minutes) + 1)]
        for system, row in rows.items():
            cells = [" / ".join(fmt(row.get(f"lateness_{q}_ms_m{m}"))
                                for q in ("p50", "p99", "max")) for m in minutes]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return [*lines, ""]


EXTRA_TABLES = {"polling": polling_tables}
EXTRA_RATIOS = {"polling": POLLING_RESOURCES[1]}


def ratio_hint(cols: list[str]) -> str:
    lower = [c for c in cols if c in LOWER_IS_BETTER]
    higher = [c for c in cols if c not in LOWER_IS_BETTER]
    parts = []
    if higher:
        parts.append(f"for {', '.join(higher)} a ratio above 1 means Horae does more")
    if lower:
        parts.append(f"for {', '.join(lower)} a ratio below 1 means Horae is faster/leaner")
    return "Ratios are Horae ÷ peer: " + "; ".join(parts) + "."


def goals_md(data: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = ["## Goals", "", "| goal | target | system | measured | met |", "|---|---|---|---|---|"]
    for text, bench, metric, op, target, systems in GOALS:
        for system in systems:
            row = data.get(bench, {}).get(system)
            value = None if row is None else row.get(metric)
            if row is not None and bench in GOAL_SIZES and \
                    row["_params"].get("n") != GOAL_SIZES[bench]:
                value, met = None, f"not run at this size ({row['_params'].get('n'):,})"
            elif value is None:
                met = "not measured"
            else:
                met = "yes" if (value >= target if op == ">=" else value <= target) else "**no**"
            lines.append(f"| {text} | {op} {target:,} | {system} | {fmt(value)} | {met} |")
    return [*lines, ""]


def fmt_load(v: Any) -> str:
    return "/".join(f"{x:.1f}" for x in v) if isinstance(v, (list, tuple)) else "?"


def write(path: Path) -> None:
    doc = json.loads(path.read_text())
    png = path.with_suffix(".png")
    chart_ok = draw(path, png)
    path.with_suffix(".md").write_text(markdown(doc, png.name if chart_ok else None) + "\n")


def draw(path: Path, png: Path) -> bool:
    py = envs.python_of("plot")
    if not py.exists():
        return False
    res = subprocess.run([str(py), str(Path(__file__).with_name("chart.py")), str(path),
                          str(png)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        print("chart failed:", res.stderr.strip().splitlines()[-1:])
    return res.returncode == 0
