"""Procrastinate 3 (PostgreSQL, LISTEN/NOTIFY): drain and pickup (see qharness).

One worker process = ``procrastinate worker --concurrency 8`` (async tasks). Jobs are
deferred with ``batch_defer_async`` in batches of 1,000 (not timed); done = rows of
``procrastinate_jobs`` in state ``succeeded`` (Procrastinate keeps finished jobs by default).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import psycopg

from bench.peers import qharness


def make(p: dict[str, Any]) -> qharness.Queue:
    os.environ["BENCH_PG"] = p["pg"]
    from bench.peers.procrastinate_app import app, noop, pickup

    loop = asyncio.new_event_loop()
    loop.run_until_complete(app.open_async())
    loop.run_until_complete(app.schema_manager.apply_schema_async())
    conn = psycopg.connect(p["pg"], autocommit=True)

    def enqueue_noops(n: int) -> None:
        for i in range(0, n, 1000):
            loop.run_until_complete(noop.batch_defer_async(*[{}] * min(1000, n - i)))

    def worker_cmd() -> list[str]:
        return [str(Path(sys.executable).with_name("procrastinate")),
                "--app=bench.peers.procrastinate_app.app", "worker", "--concurrency", "8"]

    def done() -> int:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs"
                           " WHERE status = 'succeeded'").fetchone()
        return int(row[0]) if row else 0

    def close() -> None:
        loop.run_until_complete(app.close_async())
        conn.close()

    return qharness.Queue(
        "procrastinate", enqueue_noops,
        lambda t: loop.run_until_complete(pickup.defer_async(sent_at=t)), worker_cmd, done,
        close)


if __name__ == "__main__":
    qharness.main(make)
