"""AsyncHorae on every backend: the sync API awaited, and an event loop that never blocks."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from horae import Conflict, Horae, InvalidInput, NotFound, RunState, interval
from horae.aio import AsyncHorae
from horae.worker.context import Context

T = TypeVar("T")


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = Horae(database_url)
    release = threading.Event()

    @app.task("aio.echo")
    def echo(ctx: Context, word: str = "hi") -> str:
        ctx.logger.info("echo %s", word)
        return word

    @app.task("aio.gate")
    def gate(ctx: Context) -> str:
        """Runs until the test opens the gate (or cancels it)."""
        while not release.wait(0.01):
            if ctx.cancelled:
                return "cancelled"
        return "released"

    app.release = release  # type: ignore[attr-defined]
    app.start(concurrency=4, lease=5.0)
    yield app
    release.set()
    app.stop(grace=1.0)


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop."""

    async def main() -> T:
        return await factory()

    return asyncio.run(main())


def test_signatures_match_the_sync_managers(app: Horae) -> None:
    ah = AsyncHorae(app)
    for name in ("add", "ensure", "update", "pause", "resume", "remove", "get", "list",
                 "trigger_now", "preview"):
        method = getattr(ah.schedules, name)
        assert inspect.iscoroutinefunction(method), name
        assert inspect.signature(method) == inspect.signature(getattr(app.schedules, name))
    for name in ("create", "get", "list", "cancel", "retry", "logs", "wait"):
        method = getattr(ah.runs, name)
        assert inspect.iscoroutinefunction(method), name
        sync = inspect.signature(getattr(app.runs, name))
        assert inspect.signature(method).parameters == sync.parameters, name


def test_schedules_add_update_pause_resume_list_remove(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def scenario() -> None:
        anchor = float(int(app.store.now()) + 3600)
        s = await ah.schedules.add("a1", "aio.echo", interval(seconds=60, anchor=anchor),
                                   kwargs={"word": "one"}, overlap="allow")
        assert (s.id, s.next_fire_at, s.kwargs) == ("a1", anchor, {"word": "one"})
        await ah.schedules.add("a2", "aio.echo", {"kind": "cron", "expr": "0 2 * * *"})
        s = await ah.schedules.update("a1", kwargs={"word": "two"},
                                      trigger=interval(seconds=120, anchor=anchor))
        assert s.kwargs == {"word": "two"} and s.trigger["seconds"] == 120.0
        with pytest.raises(Conflict):
            await ah.schedules.update("a1", expected_version=1, description="stale")
        assert (await ah.schedules.pause("a1")).paused
        assert [x.id for x in await ah.schedules.list(paused=True)] == ["a1"]
        assert not (await ah.schedules.resume("a1")).paused
        assert [x.id for x in await ah.schedules.list()] == ["a1", "a2"]
        fires = await ah.schedules.preview("a1", 3)
        assert [f.timestamp() for f in fires] == [anchor, anchor + 120, anchor + 240]
        assert (await ah.schedules.get("a2")).trigger["expr"] == "0 2 * * *"
        manual = await ah.runs.wait((await ah.schedules.trigger_now("a1")).id, timeout=20)
        assert (manual.state, manual.result, manual.origin) == (RunState.SUCCEEDED, "two",
                                                                "manual")
        await ah.schedules.remove("a2")
        with pytest.raises(NotFound):
            await ah.schedules.get("a2")

    run_async(scenario)


def test_errors_come_back_through_await_and_write_nothing(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def scenario() -> None:
        with pytest.raises(InvalidInput) as bad:
            await ah.schedules.add("bad", "aio.echo", {"kind": "cron", "expr": "61 * * * *"})
        assert bad.value.field.startswith("trigger")
        with pytest.raises(InvalidInput) as bad:
            await ah.runs.create("aio.echo", kwargs={"word": 5})
        assert bad.value.field.startswith("kwargs")
        with pytest.raises(InvalidInput):
            await ah.runs.create("no.such.task")
        with pytest.raises(NotFound):
            await ah.runs.get(10**9)
        assert await ah.schedules.list() == []
        assert await ah.runs.list() == []

    run_async(scenario)


def test_runs_create_wait_logs(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def scenario() -> None:
        run = await ah.runs.create("aio.echo", kwargs={"word": "hello"})
        done = await ah.runs.wait(run.id, timeout=20)
        assert (done.state, done.result) == (RunState.SUCCEEDED, "hello")
        assert any("echo hello" in line.message for line in await ah.runs.logs(run.id))
        assert [r.id for r in await ah.runs.list(state="succeeded")] == [run.id]

    run_async(scenario)


def test_cancel_and_retry(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def scenario() -> None:
        run = await ah.runs.create("aio.gate")
        for _ in range(1000):  # until a worker holds it: cancel must stop a running task
            if (await ah.runs.get(run.id)).state is RunState.RUNNING:
                break
            await asyncio.sleep(0.01)
        await ah.runs.cancel(run.id)
        assert (await ah.runs.wait(run.id, timeout=20)).state is RunState.CANCELLED
        again = await ah.runs.retry(run.id)
        assert again.id != run.id
        app.release.set()  # type: ignore[attr-defined]
        assert (await ah.runs.wait(again.id, timeout=20)).result == "released"

    run_async(scenario)


def test_wait_times_out_without_blocking(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def scenario() -> float:
        run = await ah.runs.create("aio.gate")
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="still"):
            await ah.runs.wait(run.id, timeout=0.3)
        await ah.runs.cancel(run.id)
        return time.monotonic() - started

    assert run_async(scenario) < 5


def test_wait_leaves_the_loop_and_the_threads_free(app: Horae) -> None:
    """With ONE thread, a long wait still lets a ticker and other calls run.

    A wait that blocked the loop would stop the ticker; one that held a thread for the
    whole wait would starve every other awaited call.
    """
    ah = AsyncHorae(app, threads=1)
    ticks: list[float] = []
    lists_done = 0

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def lister(stop: asyncio.Event) -> None:
        nonlocal lists_done
        while not stop.is_set():
            await ah.schedules.list()
            lists_done += 1

    async def scenario() -> RunState:
        run = await ah.runs.create("aio.gate")
        stop = asyncio.Event()
        helpers = [asyncio.create_task(ticker(stop)), asyncio.create_task(lister(stop))]
        waiting = asyncio.create_task(ah.runs.wait(run.id, timeout=30))
        while lists_done < 20 or len(ticks) < 20:  # both keep going while wait waits
            assert not waiting.done()
            await asyncio.sleep(0.01)
        app.release.set()  # type: ignore[attr-defined]
        done = await waiting
        stop.set()
        await asyncio.gather(*helpers)
        return done.state

    assert run_async(scenario) is RunState.SUCCEEDED
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f}s"


def test_concurrent_calls_share_a_bounded_pool(app: Horae) -> None:
    """However many calls are in flight, at most ``threads`` threads (and connections)."""
    ah = AsyncHorae(app, threads=2)

    def pool_threads() -> int:
        return sum(t.name.startswith("horae-aio") for t in threading.enumerate())

    async def burst() -> list[int]:
        before = pool_threads()
        lists = await asyncio.gather(*(ah.schedules.list() for _ in range(50)))
        return [len(lists), pool_threads() - before]

    calls, new_threads = run_async(burst)
    assert calls == 50 and new_threads <= 2


def test_start_and_stop_in_a_lifespan(database_url: str) -> None:
    app = Horae(database_url)
    app.task("aio.add")(lambda a, b: a + b)
    ah = AsyncHorae(app)

    async def lifespan() -> Any:
        await ah.start(scheduler=True, worker=True, concurrency=2)
        try:
            run = await ah.runs.create("aio.add", args=[2, 3])
            return (await ah.runs.wait(run.id, timeout=20)).result
        finally:
            await ah.stop(grace=1.0)

    assert run_async(lifespan) == 5
    assert app.scheduler is None and app.worker is None
