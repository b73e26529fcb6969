"""APScheduler 4.0 pre-release (AsyncScheduler + SQLAlchemyDataStore on SQLite or
PostgreSQL): fire burst, sustained load, catalogue, edit to effect.

Run with the ``apscheduler4`` venv's python:
    python -m bench.peers.aps4 burst '{"n": 5000, "url": "sqlite+aiosqlite:///x.db"}'

The scheduler runs with ``role=scheduler``: it turns due schedules into job rows (its
queue) and runs nothing, which is what a Horae scheduler does with run rows. A fire is
"handed to execution" at the job's ``created_at`` (the job is committed right after, one
transaction per job). Schedules are written in bulk, one transaction, with the exact row
``add_schedule`` writes (``Schedule.marshal`` + the store's own time conversion).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler import AsyncScheduler, ConflictPolicy, Schedule, SchedulerRole
from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from bench import common as C

UTC = UTC
TARGET = "s0000000"


def noop() -> None:
    return None


def make(url: str, *, broker: bool = False, role: str = "scheduler") -> AsyncScheduler:
    store = SQLAlchemyDataStore(url)
    kwargs: dict[str, Any] = {}
    if broker:
        kwargs["event_broker"] = AsyncpgEventBroker.from_async_sqla_engine(store._engine)
    return AsyncScheduler(store, role=SchedulerRole[role], cleanup_interval=None, **kwargs)


async def bulk_add(sched: AsyncScheduler, specs: Iterable[tuple[str, Any]]) -> None:
    """(id, trigger) pairs -> schedule rows, as add_schedule would write them (10,000 per
    transaction)."""
    task = await sched.configure_task(noop)
    ds = sched.data_store
    assert isinstance(ds, SQLAlchemyDataStore)
    rows: list[dict[str, Any]] = []
    for sid, trig in specs:
        s = Schedule(id=sid, task_id=task.id, trigger=trig, job_executor="threadpool")
        s.next_fire_time = trig.next()
        rows.append(ds._convert_outgoing_fire_times(s.marshal(ds.serializer)))
        if len(rows) == 10_000:
            await _insert(ds, rows)
            rows = []
    if rows:
        await _insert(ds, rows)


async def _insert(ds: SQLAlchemyDataStore, rows: list[dict[str, Any]]) -> None:
    async with ds._engine.begin() as conn:
        await conn.execute(ds._t_schedules.insert(), rows)


async def count_jobs(sched: AsyncScheduler) -> int:
    ds = sched.data_store
    assert isinstance(ds, SQLAlchemyDataStore)
    async with ds._engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ds._t_jobs))).scalar())


def as_seconds(value: Any) -> float:
    """A stored timestamp (aware datetime on PostgreSQL, microseconds on SQLite)."""
    return value.timestamp() if isinstance(value, datetime) else value / 1e6


async def job_times(sched: AsyncScheduler) -> list[tuple[float, float]]:
    """(scheduled fire time, created at) of every job row."""
    ds = sched.data_store
    assert isinstance(ds, SQLAlchemyDataStore)
    t = ds._t_jobs
    async with ds._engine.connect() as conn:
        rows = (await conn.execute(select(t.c.scheduled_fire_time, t.c.created_at))).all()
    return [(as_seconds(a), as_seconds(b)) for a, b in rows]


async def burst(p: dict[str, Any]) -> dict[str, Any]:
    n = p["n"]
    async with make(p["url"]) as sched:
        now = datetime.now(UTC)
        await bulk_add(sched, [(f"b{i:07d}", IntervalTrigger(days=1, start_time=now))
                               for i in range(n)])
        t0 = time.perf_counter()
        await sched.start_in_background()
        deadline = t0 + p.get("timeout", 300)
        done = 0
        while time.perf_counter() < deadline:
            done = await count_jobs(sched)
            if done >= n:
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - t0
        await sched.stop()
    out = {"fires_per_s": round(done / elapsed, 1), "seconds": round(elapsed, 3)}
    if done < n:
        out["note"] = f"stopped after {elapsed:.0f}s with {done} of {n} fires"
    return out


async def sustained(p: dict[str, Any]) -> dict[str, Any]:
    n, duration, period = p["n"], p["duration"], p.get("period", 10.0)
    async with make(p["url"]) as sched:
        t0 = time.time() + p.get("lead", 3.0) + n / 20_000
        await bulk_add(sched, [
            (f"s{i:07d}", IntervalTrigger(seconds=period, start_time=datetime.fromtimestamp(
                t0 + period * i / n, UTC))) for i in range(n)])
        await sched.start_in_background()
        late_start = time.time() - t0
        await asyncio.sleep(max(0.0, t0 - time.time()))
        cpu0 = C.self_cpu()
        await asyncio.sleep(duration)
        cpu1 = C.self_cpu()
        end = t0 + duration
        await asyncio.sleep(min(5.0, duration / 2))
        await sched.stop()
        times = await job_times(sched)
    late = [created - fire for fire, created in times if t0 <= fire < end]
    out = C.sustained_result(late, n, period, duration, cpu1 - cpu0)
    if late_start > 0:
        out["note"] = f"adding schedules overran the lead by {late_start:.1f}s"
    return out


async def catalogue_prepare(p: dict[str, Any]) -> dict[str, Any]:
    n, start = p["n"], time.time() + p["lead"]
    async with make(p["url"]) as sched:
        await bulk_add(sched, (
            (f"c{i:07d}", IntervalTrigger(days=1, start_time=datetime.fromtimestamp(
                start + 86400 * i / n, UTC))) for i in range(n)))
    return {"prepared": n}


async def catalogue_child(p: dict[str, Any]) -> None:
    async with make(p["url"]) as sched:
        await sched.start_in_background()
        print("READY", flush=True)
        while True:
            await asyncio.sleep(3600)


async def far_schedules(sched: AsyncScheduler, n: int) -> None:
    first = datetime.now(UTC) + timedelta(days=1)
    await bulk_add(sched, [(f"s{i:07d}", IntervalTrigger(days=1, start_time=first))
                           for i in range(n)])


async def edit_scheduler(p: dict[str, Any]) -> None:
    async with make(p["url"], broker=p.get("broker", False)) as sched:
        await sched.start_in_background()
        print("READY", flush=True)
        while True:
            await asyncio.sleep(3600)


async def edit(p: dict[str, Any]) -> dict[str, Any]:
    """Another process moves one schedule to fire in 1 s; actual = the job's created_at."""
    n, samples, wait = p["n"], p["samples"], p.get("wait", 15.0)
    broker = p.get("broker", False)
    async with make(p["url"], broker=broker) as editor:
        await far_schedules(editor, n)
        log = C.WORK / "aps4_edit.log"
        log.unlink(missing_ok=True)
        proc = C.spawn([sys.executable, "-m", "bench.peers.aps4", "edit_scheduler",
                        __import__("json").dumps({"url": p["url"], "broker": broker})],
                       log=log)
        ds = editor.data_store
        assert isinstance(ds, SQLAlchemyDataStore)
        t = ds._t_jobs
        late: list[float] = []
        note = ""
        try:
            while "READY" not in log.read_text():  # the scheduler process starts
                if proc.poll() is not None:
                    return {"error": "the scheduler process died: " + log.read_text()[-300:]}
                await asyncio.sleep(0.05)
            warm = p.get("warmup", 2)
            for k in range(samples + warm):  # warm-up edits first
                fire = datetime.now(UTC) + timedelta(seconds=1)
                await editor.add_schedule(noop, DateTrigger(fire), id=TARGET,
                                          conflict_policy=ConflictPolicy.replace)
                deadline = time.time() + 1 + wait
                created = None
                while time.time() < deadline and created is None:
                    async with ds._engine.connect() as conn:
                        created = (await conn.execute(
                            select(t.c.created_at).where(t.c.scheduled_fire_time == fire)
                        )).scalar()
                    await asyncio.sleep(0.002)
                if created is None:
                    note = f"edit {k + 1}: no job {wait:.0f}s after the new fire time" + (
                        "" if broker else "; without an event broker the scheduler only "
                        "looks again at its next known fire time")
                    break
                if k >= warm:
                    late.append(as_seconds(created) - fire.timestamp())
        finally:
            C.stop(proc)
    pc = C.percentiles(late)
    out: dict[str, Any] = {"p50_ms": pc["p50"], "p99_ms": pc["p99"], "max_ms": pc["max"],
                           "samples": len(late)}
    if note:
        out = {"p50_ms": None, "p99_ms": None, "note": note}
    return out


if __name__ == "__main__":
    what, params = C.args()
    fn = {"burst": burst, "sustained": sustained, "catalogue_prepare": catalogue_prepare,
          "catalogue_child": catalogue_child, "edit_scheduler": edit_scheduler,
          "edit": edit}[what]
    result = asyncio.run(fn(params))
    if result is not None:
        C.emit(result)
