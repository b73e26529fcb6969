"""Horae's latencies across processes: edit-to-effect and pickup.

    python -m bench.latency edit --db sqlite:///bench/.work/edit.db --schedules 100000
    python -m bench.latency edit --db 'postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dbench_latency'
    python -m bench.latency pickup --db sqlite:///bench/.work/pickup.db --samples 200

edit
    N schedules are stored, all with far-future next fires, and one ``horae scheduler``
    process runs. This process moves one schedule to "fire in 1 s" (``schedules.update(id,
    trigger=at(now + 1))``), K times, and measures the run's ``created_at`` minus the
    intended fire time: how late the edit took effect in another process. ``--lead 0``
    edits to "fire now" instead: a scheduler that missed the edit would only fire at its
    next periodic wake-up (up to 1 s), so this isolates the change notification.
pickup
    An idle system with one ``horae worker`` process; runs are enqueued one at a time at
    about 10/s; measures ``started_at - created_at`` of each.

Every instant is the database's clock, so both ends of each measure share one clock.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.horae_core import fresh_app
from horae import Horae, at, interval
from horae.models import Policies
from horae.store.rows import dumps, policies_to_json

ROOT = Path(__file__).resolve().parents[1]
HORAE = str(Path(sys.executable).with_name("horae"))
TARGET = "b0000000"


def prepare_schema(url: str) -> None:
    """PostgreSQL: create the schema a ``search_path`` option names, if it is missing."""
    if not url.startswith("postgres") or "search_path" not in url:
        return
    from urllib.parse import unquote

    import psycopg

    schema = unquote(url).split("search_path=", 1)[1].split("&")[0].split(",")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def client_app(url: str) -> Horae:
    prepare_schema(url)
    app = fresh_app(url)

    @app.task("noop")
    def noop() -> None:
        return None

    return app


@contextmanager
def horae_process(url: str, *args: str, app: str | None = None) -> Iterator[None]:
    env = dict(os.environ, HORAE_DATABASE_URL=url,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [HORAE, "--db", url, *(["-A", app] if app else []), *args]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def poll(check: Callable[[], Any], timeout: float = 30.0, interval_: float = 0.002) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None:
            return value
        time.sleep(interval_)
    raise TimeoutError(f"nothing after {timeout}s")


def insert_far_schedules(app: Horae, n: int) -> None:
    """N schedules in bulk, each next due in a day: stored, not firing."""
    now = app.store.now()
    trig = dumps(interval(seconds=86400, anchor=now + 86400).to_dict())
    pol = policies_to_json(Policies(overlap="allow"))  # type: ignore[arg-type]
    with app.store.db.write() as tx:
        for start in range(0, n, 10_000):
            tx.many(
                "INSERT INTO horae_schedules (id, task, trigger, args, kwargs, policies,"
                " next_fire_at, created_at, updated_at) VALUES (:id, 'noop', :trigger, '[]',"
                " '{}', :policies, :next, :now, :now)",
                [{"id": f"b{i:07d}", "trigger": trig, "policies": pol, "next": now + 86400,
                  "now": now} for i in range(start, min(n, start + 10_000))])


def run_created_at(app: Horae, fire: float) -> float | None:
    with app.store.db.read() as tx:
        row = tx.one("SELECT created_at FROM horae_runs WHERE schedule_id = :id"
                     " AND fire_time = :fire", {"id": TARGET, "fire": fire})
    return None if row is None else float(row["created_at"])


def edit(url: str, schedules: int, samples: int, lead: float = 1.0) -> dict[str, Any]:
    app = client_app(url)
    insert_far_schedules(app, schedules)
    late: list[float] = []
    with horae_process(url, "scheduler"):
        for i in range(samples + 2):  # two warm-up edits: the process is starting
            # A random pause, so edits do not fall in step with the scheduler's polling.
            time.sleep(random.uniform(0.05, 0.5))
            # lead 0: "fire now" (due at the instant of the edit, so only the wake-up
            # makes it fire); else at now + lead. The stored next_fire_at is the intent.
            trigger = "now" if lead == 0 else at(app.store.now() + lead)
            fire = app.schedules.update(TARGET, trigger=trigger).next_fire_at
            assert fire is not None
            created = poll(lambda f=fire: run_created_at(app, f), timeout=30 + lead)
            if i >= 2:
                late.append(created - fire)
    app.stop()
    return {"what": "edit", "schedules": schedules, "lead_s": lead, **summary(late)}


def pickup(url: str, samples: int, rate: float = 10.0) -> dict[str, Any]:
    app = client_app(url)
    with horae_process(url, "worker", "-c", "8", app="bench.noop_app:app"):
        poll(lambda: next((w for w in app.store.workers_list() if w.state == "active"), None))
        for _ in range(3):  # warm-up: first claims, connections, imports
            app.runs.wait(app.runs.create("noop").id, timeout=30)
        ids = []
        t0 = time.monotonic()
        for k in range(samples):
            time.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            ids.append(app.runs.create("noop").id)
        runs = [app.runs.wait(i, timeout=30) for i in ids]
    app.stop()
    waits = [r.started_at - r.created_at for r in runs if r.started_at is not None]
    return {"what": "pickup", "rate_per_s": rate, **summary(waits)}


def summary(values: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(values)

    def rank(p: float) -> float:  # nearest-rank percentile
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"samples": len(ordered), "p50_ms": round(rank(50) * 1000, 1),
            "p99_ms": round(rank(99) * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1),
            "min_ms": round(ordered[0] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["edit", "pickup"])
    parser.add_argument("--db", required=True, help="database URL (its Horae tables are "
                                                    "emptied first)")
    parser.add_argument("--schedules", type=int, default=1000,
                        help="edit: schedules stored (default 1000)")
    parser.add_argument("--samples", type=int, default=None,
                        help="samples (default: 30 for edit, 200 for pickup)")
    parser.add_argument("--lead", type=float, default=1.0,
                        help="edit: the edited schedule fires this many seconds after the "
                             "edit; 0 means 'fire now' (default 1)")
    args = parser.parse_args()
    if args.what == "edit":
        result = edit(args.db, args.schedules, args.samples or 30, args.lead)
    else:
        result = pickup(args.db, args.samples or 200)
    print(json.dumps(result | {"db": args.db.split(":")[0]}))


if __name__ == "__main__":
    main()
