"""Celery beat + celery-redbeat with a real Celery worker: the ``polling`` workload
(bench/README.md, *7.*).

Run with the ``celery`` venv's python:
    python -m bench.peers.redbeat_polling polling '{"n": 2000, "duration": 45, "warmup": 12,
                                                    "periods": [6, 12]}'

Each order is a redbeat entry (``RedBeatSchedulerEntry(...).save()``, one call per order:
there is no batch call) of an interval ``schedule``, due first at its random phase. Beat
runs in this process (a ``RedBeatScheduler`` subclass that adds the instant the entry was
due to the message's kwargs); one ``celery worker --pool threads -c 128`` process (Redis
broker) runs the ``poll`` task of ``bench/peers/celery_app.py``: it sleeps 20 ms in its
thread, deletes its own entry once the order settled (``from_key(...).delete()``) and
appends its record to a file (``PollLog``; the beat appends each publish there too).
Celery has no overlap policy: no fire is ever skipped, a worker that falls behind leaves
messages in the broker, and an interval counts from the last publish, so a late beat
makes fewer fires (``done_ratio``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import redis
from celery.beat import Service
from celery.schedules import schedule as every
from redbeat.schedulers import RedBeatScheduler, RedBeatSchedulerEntry, ensure_conf

from bench import common as C
from bench.peers.celery_app import app
from bench.polling_metrics import (
    CREATE_LIMIT_S,
    PollLog,
    Spec,
    behind,
    polling_result,
    population,
    read_poll_log,
    spec,
)

R = redis.Redis.from_url(C.REDIS_URL)


LOG_PATH = str(C.WORK / "redbeat_polls.txt")


class DueBeat(RedBeatScheduler):
    """Adds ``due`` (epoch s) to each message: the poll measures its start against it."""

    log: ClassVar[PollLog | None] = None

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True,
                    **kwargs: Any) -> Any:
        rem = entry.schedule.remaining_estimate(entry.last_run_at)
        due = time.time() + rem.total_seconds()
        # in memory only: the stored definition is not rewritten (reserve saves meta)
        entry.kwargs = dict(entry.kwargs, due=due)
        result = super().apply_async(entry, producer, advance, **kwargs)
        assert DueBeat.log is not None
        DueBeat.log.line("F", entry.name, repr(due), repr(time.time()))
        return result


def add(s: Spec) -> None:
    RedBeatSchedulerEntry(s.id, "poll", every(timedelta(seconds=s.period)),
                          kwargs={"order_id": s.id, "settle_at": s.settle_at,
                                  "key": RedBeatSchedulerEntry.generate_key(app, s.id)},
                          app=app,
                          last_run_at=datetime.fromtimestamp(s.anchor - s.period, UTC)).save()


def create(orders: list[Any], specs: list[Spec], limit_s: float) -> tuple[float, int]:
    t = time.monotonic()
    done = 0
    for o in orders:
        s = spec(o, time.time())
        add(s)
        specs.append(s)
        done += 1
        if time.monotonic() - t > limit_s:
            break
    return done / max(time.monotonic() - t, 1e-6), done


def publish_lateness(path: str, t0: float, t1: float) -> dict[str, float | None]:
    """Beat's own part of the lateness: publish instant - due, for fires due in the window."""
    late = []
    with open(path) as f:
        for line in f:
            if line.startswith("F "):
                _, _, due, at = line.split()
                if t0 <= float(due) < t1:
                    late.append(float(at) - float(due))
    return C.percentiles(late)


def polling(p: dict[str, Any]) -> dict[str, Any]:
    ensure_conf(app)
    C.WORK.mkdir(parents=True, exist_ok=True)
    Path(LOG_PATH).unlink(missing_ok=True)
    DueBeat.log = PollLog(LOG_PATH)
    n, duration, warmup = p["n"], p["duration"], p["warmup"]
    concurrency = p.get("concurrency", 128)
    sample = min(p.get("sample", 2000), n // 10)
    orders = population(n, p.get("periods", (30.0, 60.0)))
    bulk, singles = orders[:n - sample], orders[n - sample:]
    log = C.WORK / "celery_polling_worker.log"
    log.unlink(missing_ok=True)
    worker = C.spawn([str(Path(sys.executable).with_name("celery")), "-A",
                      "bench.peers.celery_app", "worker", "--pool", "threads", "-c",
                      str(concurrency), "-l", "WARNING", "--without-gossip", "--without-mingle",
                      "--without-heartbeat"], log=log, env={"BENCH_POLL_FILE": LOG_PATH})
    svc = Service(app, scheduler_cls=DueBeat, max_interval=app.conf.beat_max_loop_interval)
    beat = threading.Thread(target=svc.start, daemon=True)
    rss = C.PeakRss(lambda: [os.getpid(), worker.pid])
    rss.start()
    redis_pid, _ = C.redis_server()
    specs: list[Spec] = []
    try:
        beat.start()
        t = time.monotonic()
        bulk_rate, n_bulk = create(bulk, specs, limit_s=CREATE_LIMIT_S)
        created = time.monotonic() - t
        time.sleep(warmup)
        t0 = time.time()
        cpu0 = C.self_cpu() + C.cpu_seconds([worker.pid])
        rcpu0 = C.own_cpu_seconds([redis_pid]).get(redis_pid or -1, 0.0)
        _, mem0 = C.redis_server()
        single_rate, n_single = create(singles, specs, limit_s=min(60, duration / 3))
        time.sleep(max(0.0, t0 + duration - time.time()))
        t1 = time.time()
        cpu1 = C.self_cpu() + C.cpu_seconds([worker.pid])
        rcpu1 = C.own_cpu_seconds([redis_pid]).get(redis_pid or -1, 0.0)
        _, mem1 = C.redis_server()
        time.sleep(p.get("straggle", 10.0))
        observed_until = time.time()
        backlog = R.llen("celery")
        alive = worker.poll() is None
    finally:
        svc.stop()
        C.stop(worker)
        peak = rss.finish()
    DueBeat.log.close()
    polls, removed = read_poll_log(LOG_PATH)
    out = polling_result(specs, polls, removed, t0, t1, observed_until)
    pub = publish_lateness(LOG_PATH, t0, t1)
    notes = [f"beat's publish lateness p50 {pub['p50']} ms, p99 {pub['p99']} ms",
             "batch n/a: no batch API (entry.save() one at a time)",
             "no overlap policy: nothing is skipped",
             "database CPU = the whole Redis server (broker and schedule)"]
    if n_bulk < len(bulk):
        notes.append(f"created {n_bulk} of {len(bulk)} in {CREATE_LIMIT_S:.0f}s")
    if n_single < len(singles):
        notes.append(f"one at a time: {n_single} of {len(singles)} in the time allowed")
    notes += [x for x in [behind(out)] if x]
    if backlog:
        notes.append(f"{backlog} messages still in the broker at the end")
    if not alive:
        notes.append("the worker exited early")
    out |= {"create_bulk_per_s": round(bulk_rate, 1), "create_bulk_s": round(created, 1),
            "create_single_per_s": round(single_rate, 1), "create_batch_per_s": None,
            "cpu_s": round(cpu1 - cpu0, 2), "cpu_pct": round((cpu1 - cpu0) / (t1 - t0) * 100, 1),
            "db_cpu_s": round(rcpu1 - rcpu0, 2), "rss_mb": peak,
            "db_growth_mb": round(mem1 - mem0, 1), "db_size_mb": round(mem1, 1),
            "messages_in_broker": backlog, "note": "; ".join(notes)}
    return out


if __name__ == "__main__":
    what, params = C.args()
    assert what == "polling"
    C.emit(polling(params))
