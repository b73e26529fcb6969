"""Overload: offered fires twice what the workers can run, then relief (issue #11).

    python -m bench.overload --db sqlite:///bench/.work/overload.db
    python -m bench.overload --db postgres            # a fresh database bench_horae

One real ``horae server --no-api -c SLOTS`` runs ``work(seconds=HOLD)`` (an async task that
holds its slot), so the machine can run SLOTS / HOLD runs a second. N interval schedules
of PERIOD seconds offer N / PERIOD fires a second: twice that capacity for the overload
phase. Then three quarters of the schedules are paused in one batch (offered: half the
capacity) and the relief phase measures how long the queue takes to catch up.

What it shows, sampled every second from the public API (``queues_stats``) and the
database: the queue's lag (age of its oldest ready run) and backlog grow under overload
and are bounded (``overlap="skip"``: one waiting run per schedule at most), every skipped
run carries its reason, the server's RSS stays flat, and after the drop the lag falls
back under one period. Prints one JSON object and writes it to results/overload.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import common as C
from bench import horae_core
from bench import workloads as W
from horae import interval

RESULTS = Path(__file__).resolve().parent / "results"


def overload(url: str, slots: int, hold: float, period: float, overload_s: float,
             relief_s: float, expire_after: float | None = None) -> dict[str, Any]:
    capacity = slots / hold
    n = int(2 * capacity * period)
    app = horae_core.fresh_app(url)
    log = C.WORK / "horae_overload.log"
    log.unlink(missing_ok=True)
    proc = C.spawn([W.HORAE, "--db", url, "-A", "bench.polling_app:app", "server", "--no-api",
                    "-c", str(slots)], log=log)
    samples: list[dict[str, Any]] = []
    try:
        if not C.wait_for(lambda: any(t.name == "work" for t in app.store.tasks_list()),
                          timeout=120, every=0.1):
            return {"error": "the server did not register its task"}
        start = app.now() + 2
        app.schedules.add_many([
            {"id": f"o{i:06d}", "task": "work", "kwargs": {"seconds": hold},
             "trigger": interval(seconds=period, anchor=start + period * i / n),
             **({"expire_after": expire_after} if expire_after else {})}
            for i in range(n)])
        t0 = time.time()
        drop_at = t0 + overload_s
        dropped = False
        while time.time() < drop_at + relief_s:
            if not dropped and time.time() >= drop_at:
                app.schedules.batch([{"op": "update", "id": f"o{i:06d}", "paused": True}
                                     for i in range(n) if i % 4])
                dropped = True
            now, queues = app.queues_stats()
            q = next((x for x in queues if x.queue == "default"), None)
            samples.append({"t": round(time.time() - t0, 1), "phase": "relief" if dropped
                            else "overload", "lag_s": round(q.lag(now), 2) if q else 0.0,
                            "queued": q.queued if q else 0, "running": q.running if q else 0,
                            "rss_mb": round(C.tree_rss_mb([proc.pid]), 1)})
            time.sleep(1.0)
        with app.store.db.read() as tx:
            skipped = tx.all("SELECT error FROM horae_runs WHERE state = 'skipped'")
            missed = tx.all("SELECT error FROM horae_runs WHERE state = 'missed'")
            started = tx.one("SELECT count(*) AS n FROM horae_runs WHERE started_at IS NOT NULL")
    finally:
        C.stop(proc)
        app.stop()
    out = _summary(samples, skipped, started, capacity, n, period, slots, hold)
    out["expire_after_s"] = expire_after
    out["missed"] = len(missed)
    out["missed_reasons"] = dict(Counter(_reason(r["error"]) for r in missed).most_common(3))
    return out


def _summary(samples: list[dict[str, Any]], skipped: list[Any], started: Any,
             capacity: float, n: int, period: float, slots: int, hold: float) -> dict[str, Any]:
    over = [s for s in samples if s["phase"] == "overload"]
    relief = [s for s in samples if s["phase"] == "relief"]
    second_half = over[len(over) // 2:]
    reasons = Counter(_reason(r["error"]) for r in skipped)
    recovered = next((s["t"] - relief[0]["t"] for s in relief if s["lag_s"] <= 1.0), None) \
        if relief else None
    return {
        "capacity_runs_per_s": capacity, "offered_overload_per_s": round(n / period, 1),
        "offered_relief_per_s": round(n / 4 / period, 1), "schedules": n, "period_s": period,
        "slots": slots, "hold_s": hold,
        "lag_max_overload_s": max((s["lag_s"] for s in over), default=None),
        "queued_max_overload": max((s["queued"] for s in over), default=None),
        "rss_mb_median_second_half": statistics.median(s["rss_mb"] for s in second_half)
        if second_half else None,
        "rss_mb_max": max((s["rss_mb"] for s in samples), default=None),
        "skipped": len(skipped), "skipped_without_reason": reasons.pop("", 0),
        "skip_reasons": dict(reasons.most_common(5)),
        "runs_started": int(started["n"]) if started else 0,
        "recovered_after_drop_s": recovered, "samples": samples,
    }


def _reason(error: str | None) -> str:
    """A skip reason with its numbers left out, so equal reasons group."""
    if not error:
        return ""
    return "".join("N" if c.isdigit() else c for c in error).replace("NN", "N")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--hold", type=float, default=0.1)
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--overload", type=float, default=90.0)
    parser.add_argument("--relief", type=float, default=40.0)
    parser.add_argument("--expire-after", type=float, default=0.0,
                        help="the schedules' expire_after in seconds (0: none)")
    a = parser.parse_args()
    url = a.db if "://" in a.db else W.url_for(a.db, "overload")
    try:
        out = overload(url, a.slots, a.hold, a.period, a.overload, a.relief,
                       a.expire_after or None)
    finally:
        if "://" not in a.db:
            W.cleanup(url)
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items())
    out = {"db": url.split(":")[0], "command": "python -m bench.overload " + flags,
           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | out
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "overload.json", "a") as f:
        f.write(json.dumps(out) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
