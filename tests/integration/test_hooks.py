"""Hooks end to end (``@app.on``): a real worker and scheduler on a SQLite file and on
PostgreSQL; each event reaches its hooks once, in order, without getting in the way."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from horae import HookEvent, Horae, InvalidInput, RunState, interval
from horae.models import WorkerInfo
from tests.conftest import eventually
from tests.integration import sample_tasks


class Recorder:
    """A hook that keeps what it was given (the dispatcher calls it from one thread)."""

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.events: list[HookEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: HookEvent) -> None:
        with self.lock:
            self.events.append(event)

    def of_run(self, run_id: int) -> list[tuple[str, int | None]]:
        return [(e.kind, e.attempt) for e in self.events if e.run_id == run_id]

    def kinds(self, kind: str) -> list[HookEvent]:
        return [e for e in self.events if e.kind == kind]


def hooked_app(url: str, *hooks: tuple[str, Callable[[HookEvent], Any]],
               lease: float = 30.0) -> Horae:
    app = Horae(url)
    sample_tasks.register(app)
    app.hooks.lease = lease
    for event, func in hooks:
        app.on(event, func)
    return app


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(shared_db_url: str, recorder: Recorder) -> Iterator[Horae]:
    app = hooked_app(shared_db_url, ("*", recorder))
    app.start(concurrency=4, lease=5.0)
    yield app
    app.stop(grace=1.0)


def assert_once_in_order(events: list[HookEvent]) -> None:
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)), "each event once, in the order of the event log"


def test_run_outcomes_reach_their_hooks_once_in_order(shared_db_url: str) -> None:
    everything, failed = Recorder(), Recorder()
    app = hooked_app(shared_db_url, ("run.*", everything), ("run.failed", failed))
    app.start(concurrency=4, lease=5.0)
    try:
        boom = app.runs.create("boom.once")
        retried = app.runs.create("until_last")
        slow = app.runs.create("spin")  # times out after 0.5 s
        stopped = app.runs.create("spin.long")
        eventually(lambda: everything.of_run(stopped.id) == [("run.started", 1)])
        app.runs.cancel(stopped.id)
        for run in (boom, retried, slow, stopped):
            app.runs.wait(run.id, timeout=20)
        eventually(lambda: all(len(everything.of_run(r.id)) >= n for r, n in
                               ((boom, 2), (retried, 6), (slow, 2), (stopped, 2))))
        assert everything.of_run(boom.id) == [("run.started", 1), ("run.failed", 1)]
        assert everything.of_run(retried.id) == [
            ("run.started", 1), ("run.retrying", 1), ("run.started", 2), ("run.retrying", 2),
            ("run.started", 3), ("run.succeeded", 3)]
        assert everything.of_run(slow.id) == [("run.started", 1), ("run.timed_out", 1)]
        assert everything.of_run(stopped.id) == [("run.started", 1), ("run.cancelled", 1)]
        assert_once_in_order(everything.events)

        [failure] = failed.events  # a hook registered for one kind gets that kind only
        assert (failure.kind, failure.run_id, failure.task) == ("run.failed", boom.id,
                                                                "boom.once")
        assert failure.error == "ValueError: kaboom"
        assert (failure.attempt, failure.max_attempts, failure.state) == (1, 1, "failed")
        assert failure.duration is not None and failure.duration >= 0
        retrying = [e for e in everything.kinds("run.retrying") if e.run_id == retried.id]
        assert [e.error for e in retrying] == ["RuntimeError: attempt 1 of 3, last: False",
                                               "RuntimeError: attempt 2 of 3, last: False"]
        assert {e.max_attempts for e in retrying} == {3}
        [succeeded] = [e for e in everything.kinds("run.succeeded")]
        assert succeeded.run is not None  # fetched on first use
        assert succeeded.run.result == "attempt 3 of 3, last: True"
        assert succeeded.duration is not None and succeeded.duration >= 0
    finally:
        app.stop(grace=1.0)


def test_skipped_and_missed_fires_reach_their_hooks(app: Horae, recorder: Recorder) -> None:
    app.schedules.add("busy", "spin.long", interval(0.2), overlap="skip")
    app.schedules.add("stale", "add", interval(0.2), args=[1, 2], queue="nobody",
                      expire_after=0.3)
    eventually(lambda: recorder.kinds("run.skipped") and recorder.kinds("run.missed"),
               timeout=20)
    app.schedules.remove("busy")
    app.schedules.remove("stale")
    skipped, missed = recorder.kinds("run.skipped")[0], recorder.kinds("run.missed")[0]
    assert (skipped.schedule_id, skipped.task, skipped.state) == ("busy", "spin.long",
                                                                  "skipped")
    assert (missed.schedule_id, missed.task, missed.state) == ("stale", "add", "missed")
    assert missed.error is not None and missed.error.startswith("expire_after=0.3 s")
    assert skipped.run is not None and skipped.run.state is RunState.SKIPPED
    assert_once_in_order(recorder.events)


def test_schedule_changes_reach_their_hook(app: Horae, recorder: Recorder) -> None:
    app.schedules.add("edited", "add", interval(3600), args=[1, 2])
    app.schedules.pause("edited")
    app.schedules.resume("edited")
    app.schedules.update("edited", args=[3, 4])
    app.schedules.remove("edited")

    def changes() -> list[str | None]:
        return [e.change for e in recorder.kinds("schedule.changed")
                if e.schedule_id == "edited"]

    eventually(lambda: len(changes()) >= 5)
    assert changes() == ["created", "paused", "resumed", "updated", "removed"]
    assert_once_in_order(recorder.events)


def test_a_worker_gone_silent_and_a_lost_run_reach_their_hooks(
        app: Horae, recorder: Recorder) -> None:
    app.store.worker_register(WorkerInfo("ghost", "far-away", 1, ["ghost-q"], 1))
    lost = app.runs.create("add", args=[1, 2], queue="ghost-q")
    [claimed] = app.store.runs_claim("ghost", ["ghost-q"], 1, 0.3)  # ...and never returns
    assert claimed.id == lost.id
    app.scheduler.worker_timeout = 2.0  # the real worker heartbeats every 0.25 s
    eventually(lambda: recorder.kinds("worker.gone") and recorder.kinds("run.lost"),
               timeout=20)
    [gone] = recorder.kinds("worker.gone")
    assert gone.worker_id == "ghost" and gone.data["host"] == "far-away"
    assert recorder.of_run(lost.id) == [("run.started", 1), ("run.lost", 1)]
    assert app.worker.id not in [e.worker_id for e in recorder.kinds("worker.gone")]
    assert_once_in_order(recorder.events)


def test_a_raising_hook_breaks_neither_the_run_nor_the_next_hooks(
        shared_db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: HookEvent) -> None:
        raise RuntimeError("the hook is broken")

    after = Recorder()

    async def also_async(event: HookEvent) -> None:
        after(event)

    app = hooked_app(shared_db_url, ("run.succeeded", broken), ("run.succeeded", also_async))
    app.start(concurrency=2, lease=5.0)
    try:
        with caplog.at_level(logging.ERROR, logger="horae.hooks"):
            first = app.runs.create("add", args=[1, 2])
            second = app.runs.create("add", args=[3, 4])
            assert app.runs.wait(first.id, timeout=20).state is RunState.SUCCEEDED
            assert app.runs.wait(second.id, timeout=20).state is RunState.SUCCEEDED
            eventually(lambda: len(after.events) == 2)
        assert sorted(e.run_id for e in after.events) == sorted([first.id, second.id])
        failures = [r for r in caplog.records if "the hook is broken" in r.getMessage()
                    or (r.exc_info and "the hook is broken" in str(r.exc_info[1]))]
        assert len(failures) == 2
        assert all("run.succeeded" in r.getMessage() for r in failures)
    finally:
        app.stop(grace=1.0)


def test_a_hook_that_blocks_does_not_delay_runs(shared_db_url: str) -> None:
    release = threading.Event()
    blocked = threading.Event()

    def stuck(event: HookEvent) -> None:
        blocked.set()
        release.wait(60)

    app = hooked_app(shared_db_url, ("run.started", stuck))
    app.start(concurrency=2, lease=5.0)
    try:
        app.runs.create("add", args=[1, 2])
        assert blocked.wait(20)
        later = app.runs.create("add", args=[3, 4])
        assert app.runs.wait(later.id, timeout=20).state is RunState.SUCCEEDED
        assert not release.is_set()  # the hook was still blocked the whole time
        dispatcher = app.hook_dispatcher
        dispatcher.stop_wait = 0.2
        app.stop(grace=1.0)  # does not wait for the hook; gives the lease up
        release.set()
        eventually(lambda: not dispatcher.alive)
        assert app._store is None  # the hook's thread did not reopen the store
        assert Horae(shared_db_url).store.consumer_get("hooks")["lease_owner"] is None
    finally:
        release.set()
        app.stop(grace=1.0)


def test_two_apps_with_the_same_hooks_deliver_each_event_once_in_total(
        shared_db_url: str) -> None:
    seen = Recorder()
    first = hooked_app(shared_db_url, ("run.succeeded", seen))
    second = hooked_app(shared_db_url, ("run.succeeded", seen))
    first.start(concurrency=2, lease=5.0)
    second.start(concurrency=2, lease=5.0)
    stopped = False
    try:
        runs = [first.runs.create("add", args=[i, i]) for i in range(10)]
        eventually(lambda: len(seen.events) >= 5, timeout=30)
        holder = first if first.hook_dispatcher.holding else second
        holder.stop(grace=1.0)  # the other one takes over from the cursor
        stopped = True
        other = second if holder is first else first
        runs += [other.runs.create("add", args=[i, i]) for i in range(10)]
        eventually(lambda: len(seen.events) >= 20, timeout=30)
        assert sorted(e.run_id for e in seen.events) == sorted(r.id for r in runs)
        assert_once_in_order(seen.events)
        assert other.hook_dispatcher.holding
    finally:
        for app in (first, second):
            if not (stopped and app is holder):
                app.stop(grace=1.0)


CHILD = textwrap.dedent("""
    import sys, time
    from horae import Horae

    url, out = sys.argv[1], sys.argv[2]
    app = Horae(url)
    app.hooks.lease = 1.5

    @app.on("run.succeeded")
    def record(event):
        with open(out, "a") as f:
            f.write(f"begin {event.id} {event.run_id}\\n")
        if event.run_id % 3 == 0:
            time.sleep(3600)  # killed here, mid-delivery
        with open(out, "a") as f:
            f.write(f"done {event.id} {event.run_id}\\n")

    app.start(scheduler=False, worker=False)
    print("started", flush=True)
    while True:
        time.sleep(1)
""")


def test_a_process_killed_mid_delivery_is_taken_over_and_nothing_is_skipped(
        shared_db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "child.log"
    out.touch()
    child = subprocess.Popen([sys.executable, "-c", CHILD, shared_db_url, str(out)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    seen = Recorder()
    app = hooked_app(shared_db_url, ("run.succeeded", seen), lease=1.5)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        # The child's dispatcher takes the lease first: wait until it holds it.
        eventually(lambda: (app.store.consumer_get("hooks") or {}).get("lease_owner"))
        app.start(concurrency=2, lease=5.0)
        runs = [app.runs.create("add", args=[i, i]) for i in range(6)]
        for run in runs:
            app.runs.wait(run.id, timeout=20)

        def begun() -> list[list[str]]:
            return [line.split() for line in out.read_text().splitlines()
                    if line.startswith("begin")]

        stuck = eventually(lambda: [b for b in begun() if int(b[2]) % 3 == 0], timeout=20)[0]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        done = {int(line.split()[2]) for line in out.read_text().splitlines()
                if line.startswith("done")}
        expected = {r.id for r in runs} - done  # what the child did not finish
        assert int(stuck[2]) in expected
        eventually(lambda: {e.run_id for e in seen.events} >= expected, timeout=30)
        assert int(stuck[2]) in {e.run_id for e in seen.events}  # delivered again
        assert {e.run_id for e in seen.events} <= {r.id for r in runs}
        assert_once_in_order(seen.events)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        app.stop(grace=1.0)


@pytest.mark.postgres
def test_an_event_committed_late_is_delivered_before_the_later_ones(pg_url: str) -> None:
    """On PostgreSQL an id can commit after a larger one: the dispatcher waits for it."""
    import psycopg

    seen = Recorder()
    app = hooked_app(pg_url, ("run.failed", seen))
    app.start(concurrency=2, lease=5.0)
    try:
        with psycopg.connect(pg_url) as slow:  # takes an event id, commits later
            [row] = slow.execute(
                "INSERT INTO horae_runs (task, state, queue, origin, args, kwargs,"
                " created_at, not_before, finished_at, error)"
                " VALUES ('late', 'failed', 'default', 'manual', '[]', '{}', 0, 0, 0,"
                " 'late failure') RETURNING id").fetchall()
            early = app.runs.create("boom.once")
            assert app.runs.wait(early.id, timeout=20).state is RunState.FAILED
            passes = app.hook_dispatcher.passes
            eventually(lambda: app.hook_dispatcher.passes >= passes + 5)
            assert seen.events == []  # not past the hole while it may still fill
            slow.commit()
        eventually(lambda: len(seen.events) == 2)
        assert [e.run_id for e in seen.events] == [row[0], early.id]
        assert seen.events[0].error == "late failure"
    finally:
        app.stop(grace=1.0)


def test_an_unknown_event_name_is_invalid_input_naming_event() -> None:
    app = Horae("sqlite:///:memory:")
    with pytest.raises(InvalidInput) as caught:
        app.on("run.exploded")
    assert caught.value.field == "event"
    with pytest.raises(InvalidInput):
        app.on("run.fail", print)
    assert len(app.hooks) == 0
