"""A cancelled task keeps the lines it logged on its way out, whatever its mode, with a
real worker. A process-mode child used to be killed at once on cancel, so the lines it
would have logged never existed; it now gets SIGTERM (ctx.cancelled) and a grace."""

from __future__ import annotations

import asyncio
import time

import pytest

from horae import Horae, RunState
from horae.worker.context import Context
from tests.conftest import eventually


def wind_down(ctx: Context) -> str:
    ctx.logger.info("started")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ctx.cancelled:
        time.sleep(0.01)
    ctx.logger.warning("cancelled: cleaning up")
    return "stopped"


async def wind_down_async(ctx: Context) -> str:
    ctx.logger.info("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        ctx.logger.warning("cancelled: cleaning up")
        raise
    return "slept"


def register(app: Horae) -> None:
    app.task("wind_down")(wind_down)
    app.task("wind_down.async", mode="async")(wind_down_async)
    app.task("wind_down.proc", mode="process")(wind_down)


@pytest.mark.parametrize("task", ["wind_down", "wind_down.async", "wind_down.proc"])
def test_the_last_line_of_a_cancelled_run_is_kept(database_url: str, task: str) -> None:
    app = Horae(database_url)
    register(app)
    app.start(scheduler=False, concurrency=2)
    try:
        run = app.runs.create(task)
        eventually(lambda: any(x.message.endswith("started") for x in app.runs.logs(run.id)),
                   timeout=30)
        app.runs.cancel(run.id)
        done = app.runs.wait(run.id, timeout=30)
        assert done.state is RunState.CANCELLED
        lines = [x.message for x in app.runs.logs(run.id)]
        assert any(x.endswith("cancelled: cleaning up") for x in lines), lines
    finally:
        app.stop(grace=0.5)


def deaf(seconds: float) -> str:
    """Ignores ctx.cancelled (and SIGTERM's flag): only a kill stops it."""
    time.sleep(seconds)
    return "slept"


def test_a_process_child_that_ignores_the_cancel_is_killed_after_the_grace(
        database_url: str) -> None:
    from horae.worker.executors import CANCEL_GRACE

    app = Horae(database_url)
    app.task("deaf", mode="process")(deaf)
    app.start(scheduler=False, concurrency=1)
    try:
        run = app.runs.create("deaf", kwargs={"seconds": 120})
        eventually(lambda: app.runs.get(run.id).state is RunState.RUNNING, timeout=30)
        asked = time.monotonic()
        app.runs.cancel(run.id)
        done = app.runs.wait(run.id, timeout=60)
        assert done.state is RunState.CANCELLED
        assert "killed (cancel)" in (done.error or ""), done.error
        assert time.monotonic() - asked < CANCEL_GRACE + 20  # not the task's 120 s
    finally:
        app.stop(grace=0.5)
