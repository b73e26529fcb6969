"""Horae's side of every workload, run in this interpreter (bench/README.md explains each).

Each function takes a database URL and sizes and returns ``{metric: value}``. Real
``horae scheduler`` / ``horae worker`` processes do the work wherever the workload is about
processes (sustained load, catalogue, edits, drain, pickup); the fire burst calls the
scheduler's own pass (``Store.schedules_fire_due`` with the scheduler's planner) in a
loop, as ``bench/horae_core.py`` does.
"""

from __future__ import annotations

import bisect
import io
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import common as C
from bench import horae_core
from horae import Horae, interval
from horae.models import Policies
from horae.store.rows import dumps, policies_to_json

HORAE = str(Path(sys.executable).with_name("horae"))
CATALOGUE_LEAD = 900.0  # the catalogue's first fire: after every measurement of it
SCHEDULE_COLS = ("id", "task", "trigger", "args", "kwargs", "policies", "next_fire_at",
                 "created_at", "updated_at")


# -- databases ----------------------------------------------------------------------


def fresh_pg(name: str) -> str:
    """Drop and create database ``name``; its URL."""
    import psycopg

    with psycopg.connect(C.PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return C.pg_url(name)


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(C.PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url_for(backend: str, tag: str) -> str:
    """A fresh database for one measurement: a new SQLite file or PostgreSQL database."""
    if backend == "sqlite":
        C.WORK.mkdir(parents=True, exist_ok=True)
        path = C.WORK / f"horae_{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return fresh_pg("bench_horae")


def cleanup(url: str) -> None:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url[len('sqlite:///'):]}{suffix}").unlink(missing_ok=True)
    else:
        drop_pg(url.rsplit("/", 1)[1])


def bulk_schedules(app: Horae, rows: list[tuple[Any, ...]]) -> None:
    """Insert schedule rows (SCHEDULE_COLS order) fast: COPY on PostgreSQL, executemany on
    SQLite. The rows are what ``schedules.add`` writes, minus per-row validation."""
    app.store  # noqa: B018 - migrate first
    url = app.database_url
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        with conn:
            conn.executemany(f"INSERT INTO horae_schedules ({', '.join(SCHEDULE_COLS)}) VALUES"
                             f" ({', '.join('?' * len(SCHEDULE_COLS))})", rows)
        conn.close()
        return
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(
            f"COPY horae_schedules ({', '.join(SCHEDULE_COLS)}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(r)


def spread_schedules(app: Horae, n: int, period: float, start: float) -> None:
    """``n`` interval schedules of ``period`` s whose phases spread evenly over the period,
    the first fire of schedule i at ``start + period*i/n``."""
    now = app.store.now()
    pol = policies_to_json(Policies(overlap="allow"))  # type: ignore[arg-type]
    rows = []
    for i in range(n):
        first = start + period * i / n
        trig = dumps(interval(seconds=period, anchor=first).to_dict())
        rows.append((f"s{i:07d}", "noop", trig, "[]", "{}", pol, first, now, now))
    bulk_schedules(app, rows)


# -- 1. fire burst --------------------------------------------------------------------


def burst(backend: str, n: int) -> dict[str, Any]:
    url = url_for(backend, "burst")
    try:
        out = horae_core.burst(url, n)
    finally:
        cleanup(url)
    return {"fires_per_s": round(out["fires_per_second"], 1), "seconds": round(out["seconds"], 3)}


# -- 2. sustained load ----------------------------------------------------------------


class RunObserver(threading.Thread):
    """Polls the newest run id every ~2 ms from another connection: the first instant
    each run was visible (committed) to the rest of the world."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: list[tuple[int, float]] = []  # (max id, wall time first seen)
        self.halt = threading.Event()

    def run(self) -> None:
        if self.url.startswith("sqlite"):
            conn: Any = sqlite3.connect(self.url[len("sqlite:///"):], isolation_level=None)
        else:
            import psycopg

            conn = psycopg.connect(self.url, autocommit=True)
        last = 0
        while not self.halt.is_set():
            row = conn.execute("SELECT max(id) FROM horae_runs").fetchone()
            top = int(row[0] or 0)
            if top > last:
                self.seen.append((top, time.time()))
                last = top
            self.halt.wait(0.002)
        conn.close()

    def visible_at(self, run_id: int) -> float | None:
        i = bisect.bisect_left(self.seen, (run_id, 0.0))
        return self.seen[i][1] if i < len(self.seen) else None


def sustained(backend: str, n: int, duration: float, period: float = 10.0,
              lead: float = 3.0, server: bool = False) -> dict[str, Any]:
    """N interval schedules spread over ``period``; one ``horae scheduler`` process runs
    for ``duration`` s. Lateness = first instant the run row is visible - fire time.

    With ``server``, one ``horae server`` process (scheduler and a worker of 16 slots, as
    APScheduler runs its jobs in its own process) and lateness = the run's start
    (``started_at``, the database clock at the claim) - fire time."""
    url = url_for(backend, "sustained")
    app = horae_core.fresh_app(url)
    t0 = app.store.now() + lead  # the scheduler process starts inside the lead
    spread_schedules(app, n, period, t0)
    t0 = max(t0, app.store.now() + 1.0)  # a large insert may eat into the lead
    observer = RunObserver(url)
    observer.start()
    cmd = ([HORAE, "--db", url, "-A", "bench.noop_app:app", "server", "--no-api", "-c", "16"]
           if server else [HORAE, "--db", url, "scheduler"])
    proc = C.spawn(cmd, log=C.WORK / "horae_scheduler.log")
    try:
        time.sleep(max(0.0, t0 - time.time()))
        cpu0 = C.cpu_seconds([proc.pid])
        time.sleep(duration)
        cpu1 = C.cpu_seconds([proc.pid])
        end = t0 + duration
        time.sleep(min(5.0, duration / 2))  # stragglers still count, with their lateness
    finally:
        C.stop(proc)
        observer.halt.set()
        observer.join()
    with app.store.db.read() as tx:
        rows = tx.all("SELECT id, fire_time, started_at FROM horae_runs WHERE fire_time >= :a"
                      " AND fire_time < :b", {"a": t0, "b": end})
    late = []
    for r in rows:
        seen = (r["started_at"] if server else observer.visible_at(int(r["id"])))
        if seen is not None:
            late.append(float(seen) - float(r["fire_time"]))
    app.stop()
    cleanup(url)
    return C.sustained_result(late, n, period, duration, cpu1 - cpu0)


# -- 3. large catalogue ---------------------------------------------------------------


def _scheduler_child(url: str) -> None:
    """Child process of the catalogue workload: a scheduler that says when its first pass
    is done, then keeps running."""
    from horae.scheduler import Scheduler

    app = Horae(url)
    sched = Scheduler(app)
    sched.start()
    while sched.passes < 1:
        time.sleep(0.001)
    print("READY", flush=True)
    while True:
        time.sleep(3600)


def catalogue(backend: str, n: int, idle: float) -> dict[str, Any]:
    """N schedules with daily intervals spread over a day that starts CATALOGUE_LEAD s
    after they are written (nothing is due while measured: idle). Start-up = process
    spawn to the end of the scheduler's first pass."""
    url = url_for(backend, "catalogue")
    app = horae_core.fresh_app(url)
    spread_schedules(app, n, 86400.0, app.store.now() + CATALOGUE_LEAD)
    app.stop()
    return scheduler_process_profile(
        [sys.executable, "-m", "bench.workloads", "_scheduler", url], idle,
        after=lambda: cleanup(url))


def scheduler_process_profile(cmd: list[str], idle: float, after: Any = None,
                              ready_timeout: float = 600.0) -> dict[str, Any]:
    """Spawn ``cmd``, time it until it prints READY, then sample RSS and CPU while idle."""
    env = {"PYTHONUNBUFFERED": "1"}
    full = dict(__import__("os").environ, **env)
    full["PYTHONPATH"] = str(C.ROOT)
    t_spawn = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=C.ROOT, env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        ready = _read_ready(proc.stdout, ready_timeout)
        if ready is None:
            return {"error": "the scheduler did not report ready"}
        startup = time.monotonic() - t_spawn
        time.sleep(2.0)  # settle after start-up
        cpu0, rss = C.cpu_seconds([proc.pid]), C.rss_mb(proc.pid)
        t0 = time.monotonic()
        while time.monotonic() - t0 < idle:
            time.sleep(min(1.0, idle))
            rss = max(rss, C.rss_mb(proc.pid))
        cpu = C.cpu_seconds([proc.pid]) - cpu0
        elapsed = time.monotonic() - t0
    finally:
        C.stop(proc)
        if after is not None:
            after()
    return {"startup_s": round(startup, 3), "rss_mb": round(rss, 1),
            "idle_cpu_pct": round(cpu / elapsed * 100, 2)}


def _read_ready(stream: io.BufferedReader | Any, timeout: float) -> str | None:
    out: list[str] = []

    def reader() -> None:
        for line in stream:
            text = line.decode(errors="replace").strip()
            if text.startswith("READY"):
                out.append(text)
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else None


# -- 4. edit to effect, 6. pickup (bench/latency.py measures them) ---------------------


def edit(backend: str, schedules: int, samples: int) -> dict[str, Any]:
    from bench import latency  # written alongside: Horae-only latencies across processes

    url = url_for(backend, "edit")
    try:
        out = latency.edit(url, schedules, samples)
    finally:
        cleanup(url)
    return {"p50_ms": out["p50_ms"], "p99_ms": out["p99_ms"], "max_ms": out["max_ms"],
            "samples": out["samples"]}


def pickup(backend: str, rate: float, samples: int) -> dict[str, Any]:
    from bench import latency

    url = url_for(backend, "pickup")
    try:
        out = latency.pickup(url, samples, rate=rate)
    finally:
        cleanup(url)
    return {"p50_ms": out["p50_ms"], "p99_ms": out["p99_ms"], "max_ms": out["max_ms"],
            "samples": out["samples"]}


# -- 5. drain -------------------------------------------------------------------------


def drain(backend: str, n: int, workers: int, concurrency: int = 8,
          task: str = "noop") -> dict[str, Any]:
    """N queued no-op runs, then ``workers`` ``horae worker -c 8`` processes drain them
    (``task="noop.async"``: the async no-op, usually with a larger ``concurrency``)."""
    url = url_for(backend, "drain")
    app = horae_core.fresh_app(url)
    now = app.store.now()
    with app.store.db.write() as tx:
        tx.many(
            "INSERT INTO horae_runs (task, state, origin, args, kwargs, queue, not_before,"
            " created_at) VALUES (:task, 'queued', 'manual', '[]', '{}', 'default', :t, :t)",
            [{"t": now, "task": task}] * n)
    procs = [C.spawn([HORAE, "--db", url, "-A", "bench.noop_app:app", "worker", "-c",
                      str(concurrency)], log=C.WORK / "horae_worker.log")
             for _ in range(workers)]

    def done() -> int:
        with app.store.db.read() as tx:
            row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE state = 'succeeded'")
        return int(row["n"]) if row else 0

    try:
        out = C.Drain(n, done, lambda: [p.pid for p in procs], timeout=600).run()
    finally:
        for p in procs:
            C.stop(p)
        app.stop()
        cleanup(url)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "_scheduler":
        _scheduler_child(sys.argv[2])
