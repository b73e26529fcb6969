"""The app of the fault-injection tests: its database comes from HORAE_DATABASE_URL."""

from __future__ import annotations

import os
import time
from typing import Any

from horae import Horae

app = Horae()


@app.task("noop")
def noop() -> None:
    return None


@app.task("limited", concurrency=1, retries=1, retry_backoff=0.1)
def limited(ctx: Any, seconds: float = 3.0) -> dict[str, Any]:
    """At most one runs at a time anywhere; says who ran it, so a late outcome shows."""
    time.sleep(seconds)
    print(f"finished attempt {ctx.attempt} on {ctx.worker_id}")
    return {"worker": ctx.worker_id, "attempt": ctx.attempt, "pid": os.getpid()}


@app.task("sleepy")
def sleepy(seconds: float = 60.0, started: str = "") -> str:
    """Sleeps; first creates the file ``started`` names, so a test knows it is executing."""
    if started:
        open(started, "w").close()
    time.sleep(seconds)
    return "woke"


@app.task("segment", queue="seg-a")
def segment(ctx: Any) -> str:
    """Runs in whichever queue its run names (seg-a by default, seg-b when asked)."""
    return str(ctx.worker_id)


@app.task("segment.b", queue="seg-b")
def segment_b(ctx: Any) -> str:
    return str(ctx.worker_id)
