"""The app the browser tests serve: a slow task with progress and logs."""

from __future__ import annotations

import time

from horae import Horae
from horae.worker.context import Context

app = Horae()


@app.task("console.scan")
def scan(targets: list[str], steps: int = 8, delay: float = 0.4, *, ctx: Context) -> dict[str, int]:
    """Scan the targets in steps, logging each and reporting progress."""
    for i in range(1, steps + 1):
        if ctx.cancelled:
            ctx.logger.warning("cancelled at step %d", i)
            return {"steps": i - 1}
        time.sleep(delay)
        ctx.logger.info("step %d of %d: %s", i, steps, ", ".join(targets))
        ctx.progress(i / steps, f"step {i} of {steps}")
    return {"steps": steps}


@app.task("console.flaky", retries=1)
def flaky(region: str, *, ctx: Context) -> str:
    """Fails its first attempt and succeeds at the second (a run with two attempts)."""
    ctx.logger.info("attempt %d for %s", ctx.attempt, region)
    if ctx.attempt == 1:
        ctx.logger.warning("the upstream is not ready yet")
        raise ConnectionError(f"{region}: upstream refused the connection")
    ctx.logger.info("done for %s", region)
    return region


# The tasks of docs/workflows.md, so the workflows pages can show its examples.
@app.task("scan.discover")
def discover(segment: str) -> list[str]:
    return [f"{segment}#{n}" for n in range(3)]


@app.task("scan.probe")
def probe(item: str) -> dict[str, object]:
    return {"target": item, "open": [22]}


@app.task("scan.report")
def report() -> None:
    pass


@app.task("ops.alert")
def alert(channel: str = "ops") -> None:
    pass
