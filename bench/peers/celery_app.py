"""The Celery app of the Celery peers: Redis broker on the bench's dedicated Redis db.

Tasks: ``noop`` (drain), ``pickup(sent_at)`` (records start - sent_at, see qharness) and
``poll`` (the polling workload, bench/peers/redbeat_polling.py). A
``task_postrun`` handler counts finished tasks in Redis (``bench:done``): Celery keeps no
record of a finished task without a result backend, and a count is what the drain needs.
"""

from __future__ import annotations

import json
import os
import time

import redis
from celery import Celery
from celery.signals import task_postrun

from bench.common import REDIS_URL
from bench.peers.qharness import record_pickup

app = Celery("bench", broker=REDIS_URL)
app.conf.update(
    timezone="UTC", enable_utc=True, task_ignore_result=True,
    broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
    redbeat_redis_url=REDIS_URL, redbeat_lock_key=None,  # one beat: no distributed lock
    beat_max_loop_interval=float(os.environ.get("BENCH_BEAT_MAX_INTERVAL", "5")),
)
_redis = redis.Redis.from_url(REDIS_URL)


@app.task(name="noop")
def noop(*args: object, **kwargs: object) -> None:
    return None


@app.task(name="pickup")
def pickup(sent_at: float) -> None:
    record_pickup(sent_at)


@app.task(name="poll")
def poll(order_id: str, settle_at: float, key: str, due: float | None = None) -> None:
    """Seed 004's poll: 20 ms of I/O, then, once settled, the entry deletes itself. The
    beat of the benchmark adds ``due`` (the instant the entry was due); one RPUSH records
    the poll for the benchmark (a round trip the other systems do not pay)."""
    from redbeat.schedulers import RedBeatSchedulerEntry

    started = time.time()
    time.sleep(0.02)  # a thread of the worker's pool waits, as the I/O would
    removed = None
    if time.time() >= settle_at:
        try:
            RedBeatSchedulerEntry.from_key(key, app=app).delete()
            removed = time.time()
        except KeyError:  # deleted by an earlier poll already
            pass
    _redis.rpush("bench:polls", json.dumps([order_id, due, started, time.time(), removed]))


@task_postrun.connect
def _count(**_: object) -> None:
    _redis.incr("bench:done")
