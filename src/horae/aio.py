"""``AsyncHorae``: Horae for async code (FastAPI, Starlette, Tornado, aiohttp).

Horae's core is synchronous (docs/architecture.md): its store calls are short database
round trips. This facade runs each of them in a small thread pool of its own so the event
loop never blocks, and keeps the sync signatures exactly: every method is built
from the sync one, so ``await ah.schedules.add(...)`` takes what ``app.schedules.add(...)``
takes and raises the same errors (``InvalidInput``, ``NotFound``, ``Conflict``).

``runs.wait`` is the one method that is not a thread: it polls with ``asyncio.sleep``
between short reads, so a long wait holds no thread and any number of them can run.

The pool has ``threads`` threads (default 4), and the store keeps one database connection
per thread, so an ``AsyncHorae`` holds at most that many connections however many requests
are in flight; more calls at once wait their turn without blocking the loop.

Cancelling an ``await`` stops waiting for the answer, but a write already handed to its
thread still completes (a thread cannot be interrupted); read it back if that matters.

    from horae.aio import AsyncHorae
    ah = AsyncHorae(app)
    schedule = await ah.schedules.add("nightly", "reports.build", cron("0 2 * * *"))
    run = await ah.runs.wait((await ah.runs.create("reports.build")).id)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from horae.models import TERMINAL_STATES, Run

if TYPE_CHECKING:
    from horae.app import Horae
    from horae.runs import RunManager
    from horae.schedules import ScheduleManager

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["AsyncHorae", "AsyncRuns", "AsyncSchedules"]


def in_thread(
    executor: Executor, func: Callable[P, R]
) -> Callable[P, Coroutine[Any, Any, R]]:
    """An async version of ``func`` (same signature) that runs it on ``executor``."""

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        context = contextvars.copy_context()  # as asyncio.to_thread does
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(context.run, func, *args, **kwargs)
        )

    return call


class AsyncSchedules:
    """``await ah.schedules.add/ensure/update/pause/resume/remove/get/list/trigger_now/
    preview/batch/add_many/backfill/backfills/backfill_cancel``."""

    def __init__(self, schedules: ScheduleManager, executor: Executor) -> None:
        self.sync = schedules
        self.add = in_thread(executor, schedules.add)
        self.ensure = in_thread(executor, schedules.ensure)
        self.update = in_thread(executor, schedules.update)
        self.pause = in_thread(executor, schedules.pause)
        self.resume = in_thread(executor, schedules.resume)
        self.remove = in_thread(executor, schedules.remove)
        self.get = in_thread(executor, schedules.get)
        self.list = in_thread(executor, schedules.list)
        self.trigger_now = in_thread(executor, schedules.trigger_now)
        self.preview = in_thread(executor, schedules.preview)
        self.batch = in_thread(executor, schedules.batch)
        self.add_many = in_thread(executor, schedules.add_many)
        self.backfill = in_thread(executor, schedules.backfill)
        self.backfills = in_thread(executor, schedules.backfills)
        self.backfill_cancel = in_thread(executor, schedules.backfill_cancel)


class AsyncRuns:
    """``await ah.runs.create/get/list/cancel/retry/logs/wait``."""

    def __init__(self, runs: RunManager, executor: Executor) -> None:
        self.sync = runs
        self.create = in_thread(executor, runs.create)
        self.get = in_thread(executor, runs.get)
        self.list = in_thread(executor, runs.list)
        self.cancel = in_thread(executor, runs.cancel)
        self.retry = in_thread(executor, runs.retry)
        self.logs = in_thread(executor, runs.logs)

    async def wait(self, run_id: int, timeout: float = 60.0, interval: float = 0.05) -> Run:
        """Until the run reaches a terminal state; TimeoutError after ``timeout`` s.

        Each poll is one short read in a thread; between polls the loop is free.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = await self.get(run_id)
            if run.state in TERMINAL_STATES:
                return run
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"run {run_id} is still {run.state.value} after {timeout}s")
            await asyncio.sleep(min(interval, left))


class AsyncHorae:
    """An async facade over a :class:`~horae.app.Horae`; share one per app.

    ``start``/``stop`` fit an ASGI lifespan: they run the app's sync start/stop in a
    thread, since connecting, migrating and draining a worker take a while.
    """

    def __init__(self, app: Horae, *, threads: int = 4) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.app = app
        # Threads start on first use and idle ones cost nothing; they end with the process.
        executor = ThreadPoolExecutor(threads, thread_name_prefix="horae-aio")
        self.schedules = AsyncSchedules(app.schedules, executor)
        self.runs = AsyncRuns(app.runs, executor)
        self.start = in_thread(executor, app.start)
        self.stop = in_thread(executor, app.stop)
