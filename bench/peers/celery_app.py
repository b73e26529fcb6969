"""The Celery app of the Celery peers: Redis broker on the bench's dedicated Redis db.

Tasks: ``noop`` (drain), ``pickup(sent_at)`` (records start - sent_at, see qharness) and
``poll`` (the polling workload, bench/peers/redbeat_polling.py). A
``task_postrun`` handler counts finished tasks in Redis (``bench:done``): Celery keeps no
record of a finished task without a result backend, and a count is what the drain needs.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery
from celery.signals import task_postrun

from bench.common import REDIS_URL
from bench.peers.qharness import record_pickup
from bench.polling_metrics import PollLog

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


_poll_log: PollLog | None = None


@app.task(name="poll")
def poll(order_id: str, settle_at: float, key: str, due: float = 0.0) -> None:
    """Seed 004's poll: 20 ms of I/O, then, once settled, the entry deletes itself. The
    beat of the benchmark adds ``due`` (the instant the entry was due); the poll is
    recorded as two lines in the file ``BENCH_POLL_FILE`` names (see PollLog)."""
    from redbeat.schedulers import RedBeatSchedulerEntry

    global _poll_log
    if _poll_log is None:
        _poll_log = PollLog(os.environ["BENCH_POLL_FILE"])
    _poll_log.line("S", order_id, repr(due), repr(time.time()))
    time.sleep(0.02)  # a thread of the worker's pool waits, as the I/O would
    removed = "-"
    if time.time() >= settle_at:
        try:
            RedBeatSchedulerEntry.from_key(key, app=app).delete()
            removed = repr(time.time())
        except KeyError:  # deleted by an earlier poll already
            pass
    _poll_log.line("E", order_id, repr(due), repr(time.time()), removed)


@task_postrun.connect
def _count(**_: object) -> None:
    _redis.incr("bench:done")
