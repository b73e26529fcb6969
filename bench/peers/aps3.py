"""APScheduler 3.11 (BackgroundScheduler): fire burst, sustained load, catalogue.

Run with the ``apscheduler3`` venv's python:
    python -m bench.peers.aps3 burst '{"n": 5000, "store": "memory"}'

A run is "handed to execution" when the scheduler submits it to its executor: a
ThreadPoolExecutor subclass records the instant and the scheduled run times there (the
job itself is a no-op). Jobs use ``misfire_grace_time=None`` (never dropped as late),
``coalesce=False`` and a huge ``max_instances`` so APScheduler never skips a fire: every
fire is done, as in Horae with ``overlap="allow"``.
The SQLAlchemy store is filled in one transaction with the rows ``add_job`` writes (one
pickled job state per row); adding them one by one would take minutes and is not what is
measured.
"""

from __future__ import annotations

import pickle
import threading
import time
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp

from bench import common as C

UTC = UTC


def noop() -> None:
    return None


class Recorder(ThreadPoolExecutor):
    """Records (instant, scheduled run times) at each submission."""

    def __init__(self, keep_times: bool = True) -> None:
        super().__init__(10)
        self.keep_times = keep_times
        self.count = 0
        self.records: list[tuple[float, list[datetime]]] = []
        self.target = 0
        self.done = threading.Event()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if self.keep_times:
            self.records.append((time.time(), run_times))
        self.count += len(run_times)
        if self.target and self.count >= self.target:
            self.done.set()
        super()._do_submit_job(job, run_times)


def make_scheduler(store: str, path: str | None, recorder: Recorder) -> BackgroundScheduler:
    if store == "memory":
        jobstore: Any = MemoryJobStore()
    else:
        jobstore = SQLAlchemyJobStore(url=f"sqlite:///{path}")
    return BackgroundScheduler(
        jobstores={"default": jobstore}, executors={"default": recorder}, timezone=UTC,
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 10**9})


def add_jobs(sched: BackgroundScheduler, store: str, specs: list[tuple[str, IntervalTrigger,
                                                                        datetime]]) -> None:
    """Add interval jobs (id, trigger, first run) to a started, paused scheduler."""
    if store == "memory":
        for job_id, trig, first in specs:  # in time order: the memory store appends
            # next_run_time given: a job added after its start_date would otherwise be
            # put off to the trigger's next instant (a day later)
            sched.add_job(noop, trig, id=job_id, next_run_time=first)
        return
    jobstore = sched._lookup_jobstore("default")
    rows = []
    for job_id, trig, first in specs:
        job = Job(sched, id=job_id, func=noop, trigger=trig, executor="default", args=(),
                  kwargs={}, name="noop", misfire_grace_time=None, coalesce=False,
                  max_instances=10**9, next_run_time=first)
        rows.append({"id": job_id, "next_run_time": datetime_to_utc_timestamp(first),
                     "job_state": pickle.dumps(job.__getstate__(), jobstore.pickle_protocol)})
    with jobstore.engine.begin() as conn:
        conn.execute(jobstore.jobs_t.insert(), rows)


def burst(p: dict[str, Any]) -> dict[str, Any]:
    n, store = p["n"], p["store"]
    rec = Recorder(keep_times=False)
    sched = make_scheduler(store, p.get("path"), rec)
    sched.start(paused=True)
    first = datetime.now(UTC)
    add_jobs(sched, store, [(f"b{i:07d}", IntervalTrigger(days=1, start_date=first), first)
                            for i in range(n)])
    rec.target = n
    t0 = time.perf_counter()
    sched.resume()
    finished = rec.done.wait(p.get("timeout", 300))
    elapsed = time.perf_counter() - t0
    done = rec.count
    sched.shutdown(wait=False)
    out = {"fires_per_s": round(done / elapsed, 1), "seconds": round(elapsed, 3)}
    if not finished:
        out["note"] = f"stopped after {elapsed:.0f}s with {done} of {n} fires"
    return out


def sustained(p: dict[str, Any]) -> dict[str, Any]:
    n, store, duration, period = p["n"], p["store"], p["duration"], p.get("period", 10.0)
    rec = Recorder()
    sched = make_scheduler(store, p.get("path"), rec)
    sched.start(paused=True)
    t0 = time.time() + p.get("lead", 3.0) + n / 20_000  # adding the jobs happens inside the lead
    specs = []
    for i in range(n):
        first = datetime.fromtimestamp(t0 + period * i / n, UTC)
        specs.append((f"s{i:07d}", IntervalTrigger(seconds=period, start_date=first), first))
    add_jobs(sched, store, specs)
    sched.resume()
    late_start = time.time() - t0
    time.sleep(max(0.0, t0 - time.time()))
    cpu0 = C.self_cpu()
    time.sleep(duration)
    cpu1 = C.self_cpu()
    end = t0 + duration
    time.sleep(min(5.0, duration / 2))
    sched.shutdown(wait=False)
    late = [at - rt.timestamp() for at, rts in list(rec.records) for rt in rts
            if t0 <= rt.timestamp() < end]
    out = C.sustained_result(late, n, period, duration, cpu1 - cpu0)
    if late_start > 0:
        out["note"] = f"adding jobs overran the lead by {late_start:.1f}s"
    return out


def catalogue_child(p: dict[str, Any]) -> None:
    """Builds the catalogue (a memory store must, at every start), starts, says READY."""
    n = p["n"]
    rec = Recorder(keep_times=False)
    sched = make_scheduler("memory", None, rec)
    start = time.time() + p["lead"]
    sched.start(paused=True)
    for i in range(n):
        first = datetime.fromtimestamp(start + 86400 * i / n, UTC)
        sched.add_job(noop, IntervalTrigger(days=1, start_date=first), id=f"c{i:07d}")
    sched.resume()
    print("READY", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    what, params = C.args()
    if what == "catalogue_child":
        catalogue_child(params)
    else:
        C.emit({"burst": burst, "sustained": sustained}[what](params))
