"""Drain and pickup, the same way for every task-queue peer (stdlib only).

A peer module gives a :class:`Queue`: how to enqueue, how to start one worker process,
how many tasks are done. The harness then:

drain
    enqueues ``n`` no-op tasks (not timed), starts ``workers`` worker processes and
    observes the completion count with :class:`bench.common.Drain` (clock from the first
    completion seen to the last; worker CPU over the same window).
pickup
    starts one worker, warms it up with three tasks, then enqueues ``samples`` tasks at
    ``rate`` per second, each carrying ``sent_at`` (taken just before the enqueue call);
    the task appends ``start - sent_at`` to a file; p50/p99/max of those.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common as C

PICKUP_ENV = "BENCH_PICKUP_FILE"


def record_pickup(sent_at: float) -> None:
    """Called by a pickup task as it starts: one line per task, appended atomically."""
    line = f"{time.time() - sent_at}\n".encode()
    fd = os.open(os.environ[PICKUP_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dataclass
class Queue:
    name: str
    enqueue_noops: Callable[[int], None]
    enqueue_pickup: Callable[[float], None]
    worker_cmd: Callable[[], list[str]]
    done: Callable[[], int]
    close: Callable[[], None] = lambda: None


def drain(q: Queue, p: dict[str, Any]) -> dict[str, Any]:
    n, workers = p["n"], p["workers"]
    q.enqueue_noops(n)
    procs = [C.spawn(q.worker_cmd(), log=C.WORK / f"{q.name}_worker.log")
             for _ in range(workers)]
    try:
        out = C.Drain(n, q.done, lambda: [pr.pid for pr in procs],
                      timeout=p.get("timeout", 600),
                      max_seconds=p.get("max_seconds", 120)).run()
    finally:
        for pr in procs:
            C.stop(pr)
        q.close()
    return out


def pickup(q: Queue, p: dict[str, Any]) -> dict[str, Any]:
    rate, samples = p["rate"], p["samples"]
    path = C.WORK / f"{q.name}_pickup.txt"
    path.unlink(missing_ok=True)
    proc = C.spawn(q.worker_cmd(), env={PICKUP_ENV: str(path)},
                   log=C.WORK / f"{q.name}_worker.log")

    def lines() -> list[str]:
        try:
            return path.read_text().split()
        except FileNotFoundError:
            return []

    try:
        for _ in range(3):  # warm-up: imports, connections, first claims
            q.enqueue_pickup(time.time())
        if not C.wait_for(lambda: len(lines()) >= 3, timeout=120, every=0.05):
            return {"error": "the worker did not start"}
        path.unlink()
        C.paced(samples, rate, lambda _k: q.enqueue_pickup(time.time()))
        C.wait_for(lambda: len(lines()) >= samples, timeout=60, every=0.05)
        values = [float(x) for x in lines()]
    finally:
        C.stop(proc)
        q.close()
    pc = C.percentiles(values)
    out: dict[str, Any] = {"p50_ms": pc["p50"], "p99_ms": pc["p99"], "max_ms": pc["max"],
                           "samples": len(values)}
    if len(values) < samples:
        out["note"] = f"only {len(values)} of {samples} tasks started within 60 s"
    return out


def main(make: Callable[[dict[str, Any]], Queue]) -> None:
    what, params = C.args()
    Path(C.WORK).mkdir(parents=True, exist_ok=True)
    q = make(params)
    C.emit({"drain": drain, "pickup": pickup}[what](q, params))
