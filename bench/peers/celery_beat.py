"""Celery beat with celery-redbeat (Redis) and with django-celery-beat's DatabaseScheduler
(PostgreSQL): fire burst, sustained load, edit to effect, catalogue.

Run with the ``celery`` venv's python:
    python -m bench.peers.celery_beat burst '{"n": 5000}'

A fire is "handed to execution" when beat has published the task message to the broker
(Redis list ``celery``; no worker runs). A scheduler subclass records, around
``apply_async``, how late the entry was (``-schedule.remaining_estimate(last_run_at)``)
plus the time the publish took. Entries are written in bulk with the exact hash/zset rows
``RedBeatSchedulerEntry.save`` writes (redbeat) or with ``bulk_create`` (Django).
Beat loops at most every ``beat_max_loop_interval`` = 5 s (django-celery-beat's default;
redbeat's would be Celery's 300 s, which would make an edit wait up to five minutes).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery.beat import Service
from celery.schedules import schedule as every
from redbeat.decoder import RedBeatJSONEncoder
from redbeat.schedulers import RedBeatScheduler, RedBeatSchedulerEntry

from bench import common as C
from bench.peers.celery_app import app

UTC = UTC
R = redis.Redis.from_url(C.REDIS_URL)


class Recording:
    """Mixin: count sends, record lateness; optionally push each to Redis or say READY."""

    keep = True
    push = False
    ready_on_tick = False

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True,
                    **kwargs: Any) -> Any:
        rem = (entry.schedule.remaining_estimate(entry.last_run_at)
               if entry.last_run_at is not None else timedelta(0))
        before = time.time()
        result = super().apply_async(entry, producer, advance, **kwargs)  # type: ignore[misc]
        after = time.time()
        late = -rem.total_seconds() + (after - before)
        Recording.count += 1
        if self.keep:
            Recording.records.append((after - late, after))
        if self.push:
            R.rpush("bench:sends", json.dumps([entry.name, after - late, after]))
        return result

    def tick(self, *args: Any, **kwargs: Any) -> Any:
        result = super().tick(*args, **kwargs)  # type: ignore[misc]
        if self.ready_on_tick and not Recording.ready:
            Recording.ready = True
            print("READY", flush=True)
        return result


Recording.count = 0  # type: ignore[attr-defined]
Recording.records = []  # type: ignore[attr-defined]
Recording.ready = False  # type: ignore[attr-defined]


class RecRedBeat(Recording, RedBeatScheduler):
    pass


def run_beat(cls: type, **flags: Any) -> tuple[Service, threading.Thread]:
    for k, v in flags.items():
        setattr(cls, k, v)
    svc = Service(app, scheduler_cls=cls, max_interval=app.conf.beat_max_loop_interval)
    t = threading.Thread(target=svc.start, daemon=True)
    t.start()
    return svc, t


# -- redbeat ----------------------------------------------------------------------------


def redbeat_bulk(specs: list[tuple[str, float, float]]) -> None:
    """(name, period s, next due epoch) -> redbeat entries, as ``save`` writes them."""
    from redbeat.schedulers import ensure_conf

    ensure_conf(app)
    key = app.redbeat_conf.schedule_key
    pipe = R.pipeline(transaction=False)
    for i, (name, period, due) in enumerate(specs):
        last = datetime.fromtimestamp(due - period, UTC)
        e = RedBeatSchedulerEntry(name, "noop", every(timedelta(seconds=period)), app=app)
        definition = {"name": e.name, "task": e.task, "args": e.args, "kwargs": e.kwargs,
                      "options": e.options, "schedule": e.schedule, "enabled": True}
        pipe.hset(e.key, "definition", json.dumps(definition, cls=RedBeatJSONEncoder))
        pipe.hset(e.key, "meta", json.dumps({"last_run_at": last}, cls=RedBeatJSONEncoder))
        pipe.zadd(key, {e.key: due})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def burst(p: dict[str, Any]) -> dict[str, Any]:
    n = p["n"]
    # due a second ago: redbeat selects due entries against a whole-second "now"
    now = time.time() - 1.0
    redbeat_bulk([(f"b{i:07d}", 86400.0, now) for i in range(n)])
    t0 = time.perf_counter()
    svc, _ = run_beat(RecRedBeat, keep=False)
    deadline = t0 + p.get("timeout", 300)
    while Recording.count < n and time.perf_counter() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    done = Recording.count
    svc.stop()
    queued = R.llen("celery")
    out = {"fires_per_s": round(done / elapsed, 1), "seconds": round(elapsed, 3),
           "messages_in_broker": queued}
    if done < n:
        out["note"] = f"stopped after {elapsed:.0f}s with {done} of {n} fires"
    return out


def sustained(p: dict[str, Any]) -> dict[str, Any]:
    n, duration, period = p["n"], p["duration"], p.get("period", 10.0)
    t0 = time.time() + p.get("lead", 3.0) + n / 20_000
    redbeat_bulk([(f"s{i:07d}", period, t0 + period * i / n) for i in range(n)])
    svc, _ = run_beat(RecRedBeat)
    late_start = time.time() - t0
    time.sleep(max(0.0, t0 - time.time()))
    cpu0 = C.self_cpu()
    time.sleep(duration)
    cpu1 = C.self_cpu()
    end = t0 + duration
    time.sleep(min(5.0, duration / 2))
    svc.stop()
    late = [sent - due for due, sent in list(Recording.records) if t0 <= due < end]
    out = C.sustained_result(late, n, period, duration, cpu1 - cpu0)
    if late_start > 0:
        out["note"] = f"adding entries overran the lead by {late_start:.1f}s"
    return out


# -- django-celery-beat -----------------------------------------------------------------


def django_setup(db: str) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django_celery_beat"], USE_TZ=True, TIME_ZONE="UTC",
            DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": db,
                                   "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"}},
            DEFAULT_AUTO_FIELD="django.db.models.AutoField")
        django.setup()


def djbeat_prepare(db: str, n: int, first: float, spread: float, period_days: int = 1) -> None:
    django_setup(db)
    from django.core.management import call_command
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    call_command("migrate", verbosity=0)
    daily, _ = IntervalSchedule.objects.get_or_create(every=period_days,
                                                      period=IntervalSchedule.DAYS)
    day = timedelta(days=period_days)
    batch = []
    for i in range(n):
        due = datetime.fromtimestamp(first + spread * i / n, UTC)
        batch.append(PeriodicTask(name=f"s{i:07d}", task="noop", interval=daily,
                                  last_run_at=due - day, enabled=True))
        if len(batch) == 10_000:
            PeriodicTask.objects.bulk_create(batch)
            batch = []
    if batch:
        PeriodicTask.objects.bulk_create(batch)
    PeriodicTasks.update_changed()


def djbeat_class() -> type:
    from django_celery_beat.schedulers import DatabaseScheduler

    class RecDb(Recording, DatabaseScheduler):
        pass

    return RecDb


def catalogue_prepare(p: dict[str, Any]) -> dict[str, Any]:
    djbeat_prepare(p["db"], p["n"], time.time() + p["lead"], 86400.0)
    return {"prepared": p["n"]}


def beat_child(p: dict[str, Any]) -> None:
    """A beat process: READY at its first tick; sends pushed to Redis (edit)."""
    if p["kind"] == "djbeat":
        django_setup(p["db"])
        cls = djbeat_class()
    else:
        cls = RecRedBeat
    for k, v in {"keep": False, "push": True, "ready_on_tick": True}.items():
        setattr(cls, k, v)
    Service(app, scheduler_cls=cls, max_interval=app.conf.beat_max_loop_interval).start()


# -- edit to effect (both kinds) --------------------------------------------------------


def edit(p: dict[str, Any]) -> dict[str, Any]:
    """N entries due in a day; this process moves one to "now + 1 s", K times; a beat
    process publishes it; lateness = publish instant - the new due instant."""
    kind, n, samples, wait = p["kind"], p["n"], p["samples"], p.get("wait", 15.0)
    if kind == "djbeat":
        djbeat_prepare(p["db"], n, time.time() + 86400, 0.0)
        from django_celery_beat.models import ClockedSchedule, PeriodicTask
    else:
        day = 86400.0
        redbeat_bulk([(f"s{i:07d}", day, time.time() + day) for i in range(n)])
    log = C.WORK / f"{kind}_edit.log"
    log.unlink(missing_ok=True)
    proc = C.spawn([sys.executable, "-m", "bench.peers.celery_beat", "beat_child",
                    json.dumps({"kind": kind, "db": p.get("db")})], log=log)
    late: list[float] = []
    note = ""
    try:
        if not C.wait_for(lambda: proc.poll() is None and "READY" in log.read_text(),
                          timeout=300, every=0.05):
            return {"p50_ms": None, "p99_ms": None, "note": "beat did not start"}
        warm = p.get("warmup", 2)
        for k in range(samples + warm):  # warm-up edits first
            R.delete("bench:sends")
            fire = time.time() + 1.0
            # a different entry each time: beat writes back its in-memory state of
            # entries it ran, which would clobber a second edit of the same one
            target = f"s{k:07d}"
            if kind == "djbeat":
                clock = ClockedSchedule.objects.create(
                    clocked_time=datetime.fromtimestamp(fire, UTC))
                task = PeriodicTask.objects.get(name=target)
                task.interval, task.clocked, task.one_off = None, clock, True
                task.save()
            else:
                e = RedBeatSchedulerEntry.from_key(
                    RedBeatSchedulerEntry.generate_key(app, target), app=app)
                e.reschedule(last_run_at=datetime.fromtimestamp(fire - 86400.0, UTC))
            got = C.wait_for(lambda: R.lindex("bench:sends", 0), timeout=1 + wait,
                             every=0.002)
            if got is None:
                note = (f"edit {k + 1}: not published {wait:.0f}s after the new due time")
                break
            if k >= warm:
                late.append(json.loads(got)[2] - fire)
    finally:
        C.stop(proc)
    if note:
        return {"p50_ms": None, "p99_ms": None, "note": note}
    pc = C.percentiles(late)
    return {"p50_ms": pc["p50"], "p99_ms": pc["p99"], "max_ms": pc["max"],
            "samples": len(late)}


if __name__ == "__main__":
    what, params = C.args()
    if what in ("beat_child", "catalogue_child"):
        beat_child(params)
    else:
        C.emit({"burst": burst, "sustained": sustained, "edit": edit,
                "catalogue_prepare": catalogue_prepare}[what](params))
