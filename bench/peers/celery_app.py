"""The Celery app of the Celery peers: Redis broker on the bench's dedicated Redis db.

Tasks: ``noop`` (drain) and ``pickup(sent_at)`` (records start - sent_at, see qharness). A
``task_postrun`` handler counts finished tasks in Redis (``bench:done``): Celery keeps no
record of a finished task without a result backend, and a count is what the drain needs.
"""

from __future__ import annotations

import os

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


@task_postrun.connect
def _count(**_: object) -> None:
    _redis.incr("bench:done")
