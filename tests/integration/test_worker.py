"""A real worker and scheduler against each real database: outcomes, modes, limits."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from horae import Horae, RunState, interval
from tests.conftest import eventually
from tests.integration import sample_tasks


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = Horae(database_url)
    sample_tasks.register(app)
    app.start(concurrency=4, lease=5.0)
    yield app
    app.stop(grace=1.0)


def finished(app: Horae, run_id: int, timeout: float = 20.0):
    return app.runs.wait(run_id, timeout=timeout)


def test_success_records_result_logs_progress_and_timing(app: Horae) -> None:
    run = finished(app, app.runs.create("chatty", kwargs={"n": 3}).id)
    assert run.state is RunState.SUCCEEDED
    assert run.result == "done"
    assert run.progress == 1.0
    assert run.attempt == 1
    assert run.started_at is not None and run.finished_at is not None
    assert run.duration is not None and run.duration >= 0
    assert run.worker_id == app.worker.id
    messages = [line.message for line in app.runs.logs(run.id)]
    assert [m for m in messages if m.startswith("line")] == ["line 0", "line 1", "line 2"]
    assert sum("logged" in m for m in messages) == 3


def test_positional_and_keyword_arguments(app: Horae) -> None:
    run = finished(app, app.runs.create("add", args=[2], kwargs={"b": 3}).id)
    assert (run.state, run.result) == (RunState.SUCCEEDED, 5)


@pytest.mark.parametrize("task", ["gather", "gather.async", "gather.proc"])
def test_a_task_with_star_args_takes_its_positional_arguments(app: Horae, task: str) -> None:
    run = finished(app, app.runs.create(task, args=["10.0.0.1", "10.0.0.2", "10.0.0.3"]).id)
    assert run.state is RunState.SUCCEEDED, run.error
    targets = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert run.result == (targets if task == "gather.async" else
                          {"targets": targets, "attempt": 1})
    empty = finished(app, app.runs.create(task).id)
    assert empty.state is RunState.SUCCEEDED, empty.error


def test_failure_keeps_error_and_traceback(app: Horae) -> None:
    run = finished(app, app.runs.create("boom.once").id)
    assert run.state is RunState.FAILED
    assert run.error == "ValueError: kaboom"
    assert run.traceback is not None and "raise ValueError" in run.traceback


def test_retries_then_fails_with_every_attempt_used(app: Horae) -> None:
    run = finished(app, app.runs.create("boom").id)
    assert run.state is RunState.FAILED
    assert run.attempt == 3  # retries=2


@pytest.mark.parametrize("task", ["until_last", "until_last.async", "until_last.proc"])
def test_a_task_knows_its_attempts_and_which_is_the_last(app: Horae, task: str) -> None:
    run = finished(app, app.runs.create(task).id)
    assert run.state is RunState.SUCCEEDED, run.error
    assert run.result == "attempt 3 of 3, last: True"
    said = [line.message.split(": ", 1)[1] for line in app.runs.logs(run.id)
            if ": attempt " in line.message]  # "horae.task.<name>: attempt ..."
    assert said == ["attempt 1 of 3, last: False", "attempt 2 of 3, last: False",
                         "attempt 3 of 3, last: True"]


def test_non_json_result_fails_the_run(app: Horae) -> None:
    run = finished(app, app.runs.create("not_json").id)
    assert run.state is RunState.FAILED
    assert "not JSON" in (run.error or "")


def test_thread_timeout_marks_timed_out_and_asks_the_task_to_stop(app: Horae) -> None:
    run = finished(app, app.runs.create("spin", kwargs={"seconds": 30}).id)
    assert run.state is RunState.TIMED_OUT
    assert "timed out after 0.5s" in (run.error or "")


def test_async_timeout_interrupts_the_coroutine(app: Horae) -> None:
    run = finished(app, app.runs.create("nap").id)
    assert run.state is RunState.TIMED_OUT
    assert run.duration is not None and run.duration < 10


def test_process_mode_runs_in_a_child_and_timeout_kills_it(app: Horae) -> None:
    ok = finished(app, app.runs.create("proc").id)
    assert ok.state is RunState.SUCCEEDED
    assert ok.result != os.getpid()
    slow = finished(app, app.runs.create("proc.slow", kwargs={"seconds": 30}).id)
    assert slow.state is RunState.TIMED_OUT
    assert slow.duration is not None and slow.duration < 10


def test_process_mode_streams_logs_and_progress(app: Horae) -> None:
    run = finished(app, app.runs.create("chatty.proc", kwargs={"n": 2}).id)
    assert run.state is RunState.SUCCEEDED
    assert run.progress == 1.0
    assert "line 1" in [line.message for line in app.runs.logs(run.id)]


@pytest.mark.parametrize("task", ["nap.long", "spin.long"])
def test_cancel_a_running_run(app: Horae, task: str) -> None:
    run = app.runs.create(task, kwargs={"seconds": 60})
    eventually(lambda: app.runs.get(run.id).state is RunState.RUNNING)
    app.runs.cancel(run.id)
    done = finished(app, run.id)
    assert done.state is RunState.CANCELLED


def test_cancel_a_queued_run_before_it_starts(database_url: str) -> None:
    app = Horae(database_url)
    sample_tasks.register(app)
    run = app.runs.create("add", args=[1, 2], delay=3600)
    assert run.state is RunState.SCHEDULED
    assert app.runs.cancel(run.id).state is RunState.CANCELLED
    app.stop()


def test_run_at_waits_for_its_time(app: Horae) -> None:
    run = app.runs.create("add", args=[1, 1], delay=0.3)
    assert run.state is RunState.SCHEDULED
    done = finished(app, run.id)
    assert done.state is RunState.SUCCEEDED
    assert done.started_at is not None and done.started_at >= run.not_before


def test_retry_creates_a_new_run(app: Horae) -> None:
    failed = finished(app, app.runs.create("boom.once").id)
    again = app.runs.retry(failed.id)
    assert again.retry_of == failed.id and again.id != failed.id
    assert finished(app, again.id).state is RunState.FAILED
    assert app.runs.get(failed.id).state is RunState.FAILED  # terminal never changes


def test_a_worker_never_claims_a_task_it_does_not_have(database_url: str) -> None:
    producer = Horae(database_url)
    sample_tasks.register(producer)
    producer.task("only.here")(sample_tasks.add)
    run = producer.runs.create("only.here", args=[1, 2])
    consumer = Horae(database_url) if "memory" not in database_url else producer
    if consumer is not producer:
        sample_tasks.register(consumer)
        consumer.start(scheduler=False, concurrency=2)
        probe = consumer.runs.create("add", args=[1, 1])
        assert finished(consumer, probe.id).state is RunState.SUCCEEDED
        assert consumer.runs.get(run.id).state is RunState.QUEUED
        consumer.stop(grace=1)
    producer.stop()


def test_schedule_fires_into_runs_that_succeed(app: Horae) -> None:
    app.schedules.add("every-200ms", "add", interval(seconds=0.2), kwargs={"a": 1, "b": 2})
    runs = eventually(lambda: [r for r in app.runs.list(schedule_id="every-200ms")
                               if r.state is RunState.SUCCEEDED][:3] if True else None)
    assert len(runs) >= 1
    assert all(r.result == 3 and r.fire_time is not None for r in runs)
    counters = eventually(lambda: app.schedules.get("every-200ms").successes >= 3)
    assert counters


def test_drain_releases_what_does_not_finish_in_time(database_url: str) -> None:
    if "memory" in database_url:
        pytest.skip("needs a second app on the same database")
    app = Horae(database_url)
    sample_tasks.register(app)
    app.start(scheduler=False, concurrency=1)
    run = app.runs.create("spin.long", kwargs={"seconds": 60})
    eventually(lambda: app.runs.get(run.id).state is RunState.RUNNING)
    app.worker.stop(grace=0.1)
    after = Horae(database_url)
    released = after.runs.get(run.id)
    assert released.state is RunState.QUEUED
    assert released.lease_owner is None
    assert released.attempt == 0
    after.stop()
    app.stop()


def _one_slot_busy(database_url: str, prefetch: int | None) -> tuple[Horae, int, list[int]]:
    """A one-slot worker busy with a long run while three quick runs wait."""
    app = Horae(database_url)
    sample_tasks.register(app)
    long = app.runs.create("spin.long", kwargs={"seconds": 60})
    waiting = [app.runs.create("add", args=[i, i]).id for i in range(3)]
    app.start(scheduler=False, concurrency=1, prefetch=prefetch)
    eventually(lambda: app.runs.get(long.id).state is RunState.RUNNING)
    return app, long.id, waiting


def test_prefetch_holds_runs_ahead_and_releases_them_on_stop(database_url: str) -> None:
    if "memory" in database_url:
        pytest.skip("needs a second app on the same database")
    app, long_id, waiting = _one_slot_busy(database_url, prefetch=2)
    def held() -> int:
        return sum(app.runs.get(i).lease_owner == app.worker.id for i in waiting)

    eventually(lambda: held() == 2)  # the one slot is busy: two more held, one left queued
    assert sum(app.runs.get(i).state is RunState.QUEUED for i in waiting) == 1
    app.worker.stop(grace=0.1)
    after = Horae(database_url)
    for run_id in [long_id, *waiting]:
        run = after.runs.get(run_id)
        assert (run.state, run.lease_owner, run.attempt) == (RunState.QUEUED, None, 0)
    after.stop()
    app.stop()


def test_prefetch_zero_claims_only_free_slots(database_url: str) -> None:
    app, long_id, waiting = _one_slot_busy(database_url, prefetch=0)
    rounds = app.worker.claim_rounds
    probe = app.runs.create("add", args=[0, 0])  # wakes the claim loop (same process)
    eventually(lambda: app.worker.claim_rounds >= rounds + 2)
    assert all(app.runs.get(i).state is RunState.QUEUED for i in [*waiting, probe.id])
    app.runs.cancel(long_id)
    assert all(finished(app, i).state is RunState.SUCCEEDED for i in [*waiting, probe.id])
    app.stop(grace=1.0)


def test_a_run_held_ahead_and_cancelled_never_starts(database_url: str) -> None:
    app, long_id, waiting = _one_slot_busy(database_url, prefetch=3)
    eventually(lambda: all(app.runs.get(i).lease_owner == app.worker.id for i in waiting))
    app.runs.cancel(waiting[0])
    cancelled = finished(app, waiting[0])
    assert cancelled.state is RunState.CANCELLED
    assert cancelled.result is None and app.runs.get(long_id).state is RunState.RUNNING
    app.runs.cancel(long_id)
    # A silent run is told within a heartbeat interval, not at the next lease renewal
    # (lease 30 s: every 10 s), even after the worker's first heartbeat has passed.
    assert finished(app, long_id, timeout=5).state is RunState.CANCELLED
    assert [finished(app, i).state for i in waiting[1:]] == [RunState.SUCCEEDED] * 2
    app.stop(grace=1.0)


def test_start_serves_the_queues_of_the_registered_tasks(database_url: str) -> None:
    # The README's "In Python" example: a task on `reports` and `app.start()` with no queues.
    app = Horae(database_url)

    @app.task("reports.build", queue="reports")
    def build(region: str) -> str:
        return region

    @app.task("plain")
    def plain() -> int:
        return 1

    app.start(concurrency=2)
    try:
        assert sorted(app.worker.queues) == ["default", "reports"]
        run = app.runs.wait(build.run_now(region="us").id, timeout=20)
        assert (run.state, run.result) == (RunState.SUCCEEDED, "us")
        assert app.runs.wait(app.runs.create("plain").id, timeout=20).state is RunState.SUCCEEDED
    finally:
        app.stop(grace=1.0)
