"""RQ: drain and pickup (see qharness).

One worker process = ``rq worker`` with its default ``Worker`` class, which forks a work
horse per job (RQ's default and documented model; ``SimpleWorker`` would not fork). Jobs are
enqueued with ``Queue.enqueue_many`` in batches (not timed); finished jobs are counted by
RQ's own ``FinishedJobRegistry``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.registry import FinishedJobRegistry

from bench import common as C
from bench.peers import qharness
from bench.peers.rq_tasks import noop, pickup

R = redis.Redis.from_url(C.REDIS_URL)


def make(p: dict[str, Any]) -> qharness.Queue:
    q = Queue("default", connection=R)
    finished = FinishedJobRegistry(queue=q)

    def enqueue_noops(n: int) -> None:
        for i in range(0, n, 1000):
            q.enqueue_many([Queue.prepare_data(noop) for _ in range(min(1000, n - i))])

    def worker_cmd() -> list[str]:
        return [str(Path(sys.executable).with_name("rq")), "worker", "-u", C.REDIS_URL,
                "-q", "default"]

    return qharness.Queue("rq", enqueue_noops, lambda t: q.enqueue(pickup, t), worker_cmd,
                          lambda: finished.count)


if __name__ == "__main__":
    qharness.main(make)
