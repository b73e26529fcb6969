"""PgQueuer (PostgreSQL, LISTEN/NOTIFY): drain and pickup (see qharness).

One worker process = ``PgQueuer.run()`` with its defaults (batch size 10, async entrypoints).
Jobs are enqueued with the batch form of ``Queries.enqueue`` (1,000 per call, not timed).
PgQueuer deletes a job when it completes, so done = enqueued - rows left in its queue table.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries

from bench.peers import qharness


def make(p: dict[str, Any]) -> qharness.Queue:
    os.environ["BENCH_PG"] = p["pg"]
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(p["pg"]))
    queries = Queries(AsyncpgDriver(conn))
    loop.run_until_complete(queries.install())
    enqueued = [0]

    def enqueue_noops(n: int) -> None:
        for i in range(0, n, 1000):
            k = min(1000, n - i)
            loop.run_until_complete(queries.enqueue(["noop"] * k, [None] * k, [0] * k))
        enqueued[0] += n

    def enqueue_pickup(t: float) -> None:
        loop.run_until_complete(queries.enqueue("pickup", repr(t).encode()))

    def worker_cmd() -> list[str]:
        return [sys.executable, "-m", "bench.peers.pgqueuer_app"]

    def done() -> int:
        left = loop.run_until_complete(conn.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'noop'"))
        return enqueued[0] - int(left)

    def close() -> None:
        loop.run_until_complete(conn.close())

    return qharness.Queue("pgqueuer", enqueue_noops, enqueue_pickup, worker_cmd, done, close)


if __name__ == "__main__":
    qharness.main(make)
