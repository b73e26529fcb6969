"""APScheduler 3 as seed 004 built it: the ``polling`` workload (bench/README.md, *7.*).

Run with the ``apscheduler3`` venv's python:
    python -m bench.peers.aps3_polling polling '{"n": 2000, "duration": 45, "warmup": 12,
                                                 "periods": [6, 12]}'

One process: an ``AsyncIOScheduler`` with a ``RedisJobStore`` (Redis database 13) and its
``AsyncIOExecutor``; each order is an interval job (``add_job``, one call per order: there
is no batch call) whose coroutine awaits 20 ms and, once settled, removes itself with
``scheduler.remove_job(job_id)``. Job defaults as Horae's schedule defaults:
``misfire_grace_time=60`` (a later start is *missed*), ``coalesce=True`` (catch up with
the latest fire only) and ``max_instances=1`` (a fire while the previous poll still runs
is *skipped*, as Horae's ``overlap="skip"``). A poll's start is taken in the coroutine;
its scheduled instant is handed to it by the executor (a context variable copied into the
asyncio task it creates). Polls are recorded as lines in a file (``PollLog``), not in
this process's memory, whose RSS is measured.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobSubmissionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.redis import RedisJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bench import common as C
from bench.polling_metrics import (
    CREATE_LIMIT_S,
    PollLog,
    Spec,
    behind,
    polling_result,
    population,
    read_poll_log,
    skip_reasons,
    spec,
)

DUE: contextvars.ContextVar[float] = contextvars.ContextVar("due", default=0.0)
SCHED: AsyncIOScheduler | None = None
LOG: PollLog | None = None
LOG_PATH = str(C.WORK / "aps3_polls.txt")


async def poll(order_id: str, settle_at: float) -> None:
    assert LOG is not None and SCHED is not None
    due = repr(DUE.get())
    LOG.line("S", order_id, due, repr(time.time()))
    await asyncio.sleep(0.02)
    removed = "-"
    if time.time() >= settle_at:
        try:
            SCHED.remove_job(order_id)
            removed = repr(time.time())
        except JobLookupError:
            pass
    LOG.line("E", order_id, due, repr(time.time()), removed)


class Executor(AsyncIOExecutor):
    """Hands each run's scheduled instant to the coroutine through a context variable."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        token = DUE.set(run_times[-1].timestamp())
        try:
            super()._do_submit_job(job, run_times)  # create_task copies the context
        finally:
            DUE.reset(token)


def on_skip(event: JobSubmissionEvent) -> None:
    """A fire APScheduler did not run: max instances reached (skipped) or too late."""
    assert LOG is not None
    if event.code == EVENT_JOB_MAX_INSTANCES:
        for rt in event.scheduled_run_times:
            LOG.line("K", event.job_id, repr(rt.timestamp()), "skipped",
                     "maximum number of running instances reached")
    else:  # EVENT_JOB_MISSED: one event per run time
        LOG.line("K", event.job_id, repr(event.scheduled_run_time.timestamp()), "missed",
                 "misfire_grace_time exceeded")


def add(sched: AsyncIOScheduler, s: Spec) -> None:
    sched.add_job(poll, IntervalTrigger(seconds=s.period, start_date=datetime.fromtimestamp(
        s.anchor, UTC)), id=s.id, kwargs={"order_id": s.id, "settle_at": s.settle_at},
        jobstore="redis", next_run_time=datetime.fromtimestamp(s.anchor, UTC))


async def create(sched: AsyncIOScheduler, orders: list[Any], specs: list[Spec],
                 limit_s: float) -> tuple[float, int]:
    """``add_job`` one order at a time on the scheduler's loop (as an API handler in the
    same process would), yielding to the loop every 20 adds so jobs keep running."""
    t = time.monotonic()
    done = 0
    for o in orders:
        s = spec(o, time.time())
        add(sched, s)
        specs.append(s)
        done += 1
        if done % 20 == 0:
            await asyncio.sleep(0)
        if time.monotonic() - t > limit_s:
            break
    return done / max(time.monotonic() - t, 1e-6), done


async def main(p: dict[str, Any]) -> dict[str, Any]:
    global SCHED, LOG
    C.WORK.mkdir(parents=True, exist_ok=True)
    Path(LOG_PATH).unlink(missing_ok=True)
    LOG = PollLog(LOG_PATH)
    n, duration, warmup = p["n"], p["duration"], p["warmup"]
    sample = min(p.get("sample", 2000), n // 10)
    orders = population(n, p.get("periods", (30.0, 60.0)))
    bulk, singles = orders[:n - sample], orders[n - sample:]
    sched = SCHED = AsyncIOScheduler(
        jobstores={"redis": RedisJobStore(db=C.REDIS_DB, host="127.0.0.1", port=6379)},
        executors={"default": Executor()}, timezone=UTC,
        job_defaults={"misfire_grace_time": 60, "coalesce": True, "max_instances": 1})
    sched.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    sched.start()
    rss = C.PeakRss(lambda: [__import__("os").getpid()])
    rss.start()
    redis_pid, mem0 = C.redis_server()
    specs: list[Spec] = []
    t = time.monotonic()
    bulk_rate, n_bulk = await create(sched, bulk, specs, limit_s=CREATE_LIMIT_S)
    created = time.monotonic() - t
    await asyncio.sleep(warmup)
    t0 = time.time()
    cpu0 = C.self_cpu()
    rcpu0 = C.own_cpu_seconds([redis_pid]).get(redis_pid or -1, 0.0)
    _, mem0 = C.redis_server()
    single_rate, n_single = await create(sched, singles, specs, limit_s=min(60, duration / 3))
    await asyncio.sleep(max(0.0, t0 + duration - time.time()))
    t1 = time.time()
    cpu1 = C.self_cpu()
    rcpu1 = C.own_cpu_seconds([redis_pid]).get(redis_pid or -1, 0.0)
    _, mem1 = C.redis_server()
    straggle = p.get("straggle", 10.0)
    await asyncio.sleep(straggle)
    observed_until = time.time()
    sched.shutdown(wait=False)
    peak = rss.finish()
    LOG.close()
    # fires the scheduler never handed out have no Poll: done_ratio and fired/offered
    # show them
    polls, removed = read_poll_log(LOG_PATH)
    out = polling_result(specs, polls, removed, t0, t1, observed_until)
    notes = ["batch n/a: no batch API (add_job one at a time)"]
    if n_bulk < len(bulk):
        notes.append(f"created {n_bulk} of {len(bulk)} in {CREATE_LIMIT_S:.0f}s")
    if n_single < len(singles):
        notes.append(f"one at a time: {n_single} of {len(singles)} in the time allowed")
    reasons = skip_reasons(polls, t0, t1)
    notes += [reasons] if reasons else []
    notes += [x for x in [behind(out)] if x]
    notes.append("database CPU = the whole Redis server")
    out |= {"create_bulk_per_s": round(bulk_rate, 1), "create_bulk_s": round(created, 1),
            "create_single_per_s": round(single_rate, 1), "create_batch_per_s": None,
            "cpu_s": round(cpu1 - cpu0, 2), "cpu_pct": round((cpu1 - cpu0) / (t1 - t0) * 100, 1),
            "db_cpu_s": round(rcpu1 - rcpu0, 2), "rss_mb": peak,
            "db_growth_mb": round(mem1 - mem0, 1), "db_size_mb": round(mem1, 1),
            "note": "; ".join(notes)}
    return out


if __name__ == "__main__":
    what, params = C.args()
    assert what == "polling"
    C.emit(asyncio.run(main(params)))
