"""Celery 5 worker on a Redis broker: drain and pickup (see qharness).

One worker process = ``celery worker --pool threads -c 8`` (one OS process with eight
threads, as ``horae worker -c 8``); gossip, mingle and heartbeat off. Finished tasks are
counted by a ``task_postrun`` handler (``INCR`` in Redis), since no result backend is set.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis

from bench import common as C
from bench.peers import qharness
from bench.peers.celery_app import app, noop, pickup

R = redis.Redis.from_url(C.REDIS_URL)
POOL = ("threads", "8")


def make(p: dict[str, Any]) -> qharness.Queue:
    def enqueue_noops(n: int) -> None:
        with app.producer_or_acquire() as producer:
            for _ in range(n):
                noop.apply_async(producer=producer)

    def worker_cmd() -> list[str]:
        return [str(Path(sys.executable).with_name("celery")), "-A", "bench.peers.celery_app",
                "worker", "--pool", POOL[0], "-c", POOL[1], "-l", "WARNING", "--without-gossip",
                "--without-mingle", "--without-heartbeat"]

    return qharness.Queue("celery", enqueue_noops, lambda t: pickup.delay(t), worker_cmd,
                          lambda: int(R.get("bench:done") or 0))


if __name__ == "__main__":
    qharness.main(make)
