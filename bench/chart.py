"""Draw the results chart: throughput and lateness per system (log scales).

    bench/.venvs/plot/bin/python bench/chart.py bench/results/latest.json latest.png

Standalone (json + matplotlib only): it runs in the ``plot`` venv.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PANELS = [  # (title, [(benchmark prefix, metric, label)], x label)
    ("Throughput (higher is better)",
     [("burst", "fires_per_s", "fire burst, fires/s"),
      ("drain-1w", "runs_per_s", "drain, 1 worker, runs/s"),
      ("drain-2w", "runs_per_s", "drain, 2 workers, runs/s"),
      ("polling-", "runs_per_s_done", "polling {size}: polls done/s")], "per second (log)"),
    ("Lateness p99 (lower is better)",
     [("sustained-", "lateness_p99_ms", "sustained {size}: fire lateness"),
      ("edit-", "p99_ms", "edit {size}: edit to effect"),
      ("pickup-", "p99_ms", "pickup {size}: queued to started"),
      ("polling-", "lateness_p99_ms", "polling {size}: run start")], "milliseconds (log)"),
]


def main(src: str, dst: str) -> None:
    with open(src) as f:
        doc = json.load(f)
    values: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in doc["records"]:
        if isinstance(r["value"], (int, float)) and r["value"] > 0:
            values[(r["benchmark"], r["metric"])][r["system"]] = float(r["value"])
    fig, axes = plt.subplots(1, 2, figsize=(16, 9))
    for ax, (title, series, xlabel) in zip(axes, PANELS, strict=True):
        labels, vals, colors = [], [], []
        for prefix, metric, label in series:
            for (bench, m), by_system in sorted(values.items()):
                if m != metric or not bench.startswith(prefix):
                    continue
                size = bench[len(prefix):] if prefix.endswith("-") else ""
                for system, v in sorted(by_system.items(), key=lambda kv: kv[0]):
                    labels.append(f"{label.format(size=size)} — {system}")
                    vals.append(v)
                    colors.append("#d62728" if system.startswith("horae") else "#7f7f7f")
                labels.append("")  # a gap between groups
                vals.append(0.0)
                colors.append("white")
        if not any(v > 0 for v in vals):
            ax.set_axis_off()
            ax.set_title(f"{title}: not measured in this run")
            continue
        ys = range(len(vals))
        ax.barh(list(ys), [v if v > 0 else float("nan") for v in vals], color=colors)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(labels, fontsize=6.5)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.suptitle(f"Horae (red) and peers (grey) — {doc['mode']} run, {doc['started_at']}, "
                 f"{doc['machine'].get('cores')} cores")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
