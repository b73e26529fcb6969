"""Horae's own core figures: scheduler fire burst and end-to-end no-op drain.

    python -m bench.horae_core burst --db sqlite:///bench/.work/burst.db -n 100000
    python -m bench.horae_core burst --db postgresql://postgres@127.0.0.1/test -n 100000
    python -m bench.horae_core drain --db sqlite:///bench/.work/drain.db -n 20000 -c 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from horae import Horae, interval
from horae.models import Policies
from horae.scheduler import Scheduler
from horae.store.rows import dumps, policies_to_json

WORK = Path(__file__).with_name(".work")


def fresh_app(url: str) -> Horae:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    app = Horae(url)
    if app.store.dialect == "postgres":
        with app.store.db.write() as tx:
            for table in ("runs", "run_logs", "schedules", "workers", "tasks"):
                tx.run(f"TRUNCATE horae_{table}")
    return app


def insert_due_schedules(app: Horae, n: int, task: str = "noop") -> float:
    """N schedules, each due once right now (interval of a day), inserted in bulk."""
    now = app.store.now()
    trig = dumps(interval(seconds=86400, anchor=now - 1).to_dict())
    pol = policies_to_json(Policies(overlap="allow"))  # type: ignore[arg-type]
    rows = [{"id": f"b{i:07d}", "task": task, "trigger": trig, "args": "[]", "kwargs": "{}",
             "policies": pol, "next_fire_at": now - 1, "created_at": now, "updated_at": now}
            for i in range(n)]
    with app.store.db.write() as tx:
        tx.many(
            "INSERT INTO horae_schedules (id, task, trigger, args, kwargs, policies,"
            " next_fire_at, created_at, updated_at) VALUES (:id, :task, :trigger, :args,"
            " :kwargs, :policies, :next_fire_at, :created_at, :updated_at)", rows)
    return now


def burst(url: str, n: int) -> dict[str, float]:
    app = fresh_app(url)
    insert_due_schedules(app, n)
    sched = Scheduler(app)
    t0 = time.perf_counter()
    fired = 0
    while fired < n:
        out = app.store.schedules_fire_due(sched._plan, limit=sched.batch)
        if not out.fires:
            break
        fired += out.fires
    elapsed = time.perf_counter() - t0
    with app.store.db.read() as tx:
        rows = tx.one("SELECT count(*) AS n FROM horae_runs")
    assert rows is not None and rows["n"] == n, rows
    app.stop()
    return {"schedules": n, "seconds": elapsed, "fires_per_second": n / elapsed}


def drain(url: str, n: int, concurrency: int, workers: int = 1) -> dict[str, float]:
    app = fresh_app(url)
    now = app.store.now()
    with app.store.db.write() as tx:
        tx.many(
            "INSERT INTO horae_runs (task, state, origin, args, kwargs, queue, not_before,"
            " created_at) VALUES ('noop', 'queued', 'manual', '[]', '{}', 'default', :t, :t)",
            [{"t": now}] * n)
    env = dict(os.environ, HORAE_DATABASE_URL=url, PYTHONPATH=str(Path(__file__).parents[1]))
    horae = str(Path(sys.executable).with_name("horae"))
    t0 = time.perf_counter()
    procs = [subprocess.Popen([horae, "--db", url, "-A", "bench.noop_app:app", "worker",
                               "-c", str(concurrency)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        while True:
            with app.store.db.read() as tx:
                row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE state = 'succeeded'")
            if row is not None and row["n"] >= n:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    app.stop()
    return {"runs": n, "workers": workers, "seconds": elapsed, "runs_per_second": n / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["burst", "drain"])
    parser.add_argument("--db", default=f"sqlite:///{WORK}/bench.db")
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("-c", type=int, default=8)
    parser.add_argument("-w", "--workers", type=int, default=1)
    args = parser.parse_args()
    if args.what == "burst":
        result = burst(args.db, args.n)
    else:
        result = drain(args.db, args.n, args.c, args.workers)
    print(json.dumps(result | {"db": args.db.split(":")[0]}))


if __name__ == "__main__":
    main()
