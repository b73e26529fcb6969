"""Dramatiq on a Redis broker: drain and pickup (see qharness).

One worker process = ``dramatiq --processes 1 --threads 8``. Enqueued with
``actor.send()`` one by one (not timed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis

from bench import common as C
from bench.peers import qharness
from bench.peers.dramatiq_app import noop, pickup

R = redis.Redis.from_url(C.REDIS_URL)


def make(p: dict[str, Any]) -> qharness.Queue:
    def enqueue_noops(n: int) -> None:
        for _ in range(n):
            noop.send()

    def worker_cmd() -> list[str]:
        return [str(Path(sys.executable).with_name("dramatiq")), "bench.peers.dramatiq_app",
                "--processes", "1", "--threads", "8"]

    return qharness.Queue("dramatiq", enqueue_noops, lambda t: pickup.send(t), worker_cmd,
                          lambda: int(R.get("bench:done") or 0))


if __name__ == "__main__":
    qharness.main(make)
