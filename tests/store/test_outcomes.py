"""run_finish, run_cancel, run_retry, logs and pruning; terminal states never change."""

from __future__ import annotations

import pytest

from horae.errors import Conflict, NotFound
from horae.models import LogLine, Run, RunState
from horae.store import NewRun, Store
from tests.store.support import add_due, add_runs, backdate, planner, raw_run, runs_of


def claim_one(store: Store, worker: str = "w", lease: float = 30.0) -> Run:
    [run] = store.runs_claim(worker, ["default"], 1, lease)
    return run


def scheduled_run(store: Store, sid: str = "s") -> Run:
    """A claimed run that a schedule fired."""
    add_due(store, sid)
    store.schedules_fire_due(planner)
    return claim_one(store)


def test_succeeded_keeps_a_json_result_and_counts_a_success(store: Store) -> None:
    run = scheduled_run(store)
    result = {"hosts": ["a", "b"], "n": 2, "ok": True, "none": None, "π": 3.14}
    assert store.run_finish(run, "w", RunState.SUCCEEDED, result=result)
    done = store.run_get(run.id)
    assert done.state is RunState.SUCCEEDED
    assert done.result == result
    assert done.progress == 1.0
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert (done.lease_owner, done.lease_expires_at, done.error) == (None, None, None)
    assert done.worker_id == "w"
    s = store.schedule_get("s")
    assert (s.successes, s.failures, s.last_state) == (1, 0, "succeeded")
    assert s.last_run_at is not None and abs(s.last_run_at - done.finished_at) < 1


def test_failed_keeps_error_and_traceback_and_counts_a_failure(store: Store) -> None:
    run = scheduled_run(store)
    assert store.run_finish(run, "w", RunState.FAILED, error="ValueError: bad",
                            traceback="Traceback ...\nValueError: bad")
    done = store.run_get(run.id)
    assert (done.state, done.error, done.traceback) == (
        RunState.FAILED, "ValueError: bad", "Traceback ...\nValueError: bad")
    assert done.result is None and done.finished_at is not None
    s = store.schedule_get("s")
    assert (s.successes, s.failures, s.last_state) == (0, 1, "failed")


def test_timed_out_counts_a_failure_and_cancelled_neither(store: Store) -> None:
    run = scheduled_run(store, "t")
    assert store.run_finish(run, "w", RunState.TIMED_OUT, error="timed out after 1s")
    s = store.schedule_get("t")
    assert (s.successes, s.failures, s.last_state) == (0, 1, "timed_out")
    run = scheduled_run(store, "c")
    assert store.run_finish(run, "w", RunState.CANCELLED)
    s = store.schedule_get("c")
    assert (s.successes, s.failures, s.last_state) == (0, 0, "cancelled")


def test_retrying_waits_for_its_delay_then_is_claimable_again(store: Store) -> None:
    [run] = add_runs(store, max_attempts=3)
    run = claim_one(store)
    before = store.now()
    assert store.run_finish(run, "w", RunState.RETRYING, error="flaky", retry_delay=0.3)
    waiting = store.run_get(run.id)
    assert waiting.state is RunState.RETRYING
    assert waiting.not_before >= before + 0.3
    assert waiting.finished_at is None and waiting.lease_owner is None
    assert store.runs_claim("w", ["default"], 1, 30) == []
    deadline = store.now() + 15
    while not (again := store.runs_claim("w2", ["default"], 1, 30)):
        assert store.now() < deadline
    assert again[0].id == run.id and again[0].attempt == 2
    assert again[0].started_at >= waiting.not_before


def test_cancel_a_waiting_run_at_once(store: Store) -> None:
    queued, later = add_runs(store)[0], add_runs(store, delay=60)[0]
    for run in (queued, later):
        cancelled = store.run_cancel(run.id)
        assert cancelled.state is RunState.CANCELLED
        assert cancelled.finished_at is not None
    assert store.runs_claim("w", ["default"], 10, 30) == []


def test_cancel_a_scheduled_fire_counts_on_its_schedule(store: Store) -> None:
    add_due(store, "s")
    store.schedules_fire_due(planner)
    [run] = runs_of(store, "s")
    store.run_cancel(run.id)
    assert store.schedule_get("s").last_state == "cancelled"


def test_cancel_a_running_run_asks_its_worker(store: Store) -> None:
    [run] = add_runs(store)
    run = claim_one(store, "w1")
    add_runs(store)
    claim_one(store, "w2")
    asked = store.run_cancel(run.id)
    assert asked.state is RunState.RUNNING and asked.cancel_requested
    assert store.run_cancel(run.id).cancel_requested  # asking twice is fine
    assert store.runs_heartbeat("w1", 30) == {run.id}
    assert store.runs_heartbeat("w2", 30) == set()
    assert store.run_finish(run, "w1", RunState.CANCELLED, error="cancelled while running")
    assert store.run_get(run.id).state is RunState.CANCELLED
    assert store.runs_heartbeat("w1", 30) == set()


def test_cancel_finished_is_a_conflict_and_unknown_not_found(store: Store) -> None:
    [run] = add_runs(store)
    run = claim_one(store)
    store.run_finish(run, "w", RunState.SUCCEEDED, result=1)
    before = raw_run(store, run.id)
    with pytest.raises(Conflict):
        store.run_cancel(run.id)
    assert raw_run(store, run.id) == before
    with pytest.raises(NotFound):
        store.run_cancel(10_000)


def test_retry_a_finished_run_queues_a_copy(store: Store) -> None:
    add_due(store, "s", queue="default", priority=4, retries=2, timeout=7.0)
    store.schedules_fire_due(planner)
    run = claim_one(store)
    store.run_finish(run, "w", RunState.FAILED, error="boom")
    again = store.run_retry(run.id)
    assert again.id != run.id
    assert again.retry_of == run.id
    assert again.state is RunState.QUEUED and again.origin == "retry"
    assert (again.task, again.args, again.kwargs, again.schedule_id) == (
        run.task, run.args, run.kwargs, "s")
    assert (again.queue, again.priority, again.max_attempts, again.timeout) == (
        "default", 4, 3, 7.0)
    assert again.fire_time is None and again.attempt == 0
    assert (again.result, again.error, again.finished_at, again.started_at) == (
        None, None, None, None)
    assert store.run_get(run.id).state is RunState.FAILED
    assert claim_one(store).id == again.id


def test_retry_an_unfinished_run_is_a_conflict(store: Store) -> None:
    [queued] = add_runs(store)
    with pytest.raises(Conflict):
        store.run_retry(queued.id)
    claim_one(store)
    with pytest.raises(Conflict):
        store.run_retry(queued.id)
    with pytest.raises(NotFound):
        store.run_retry(10_000)
    assert len(store.run_list()) == 1


def terminal_runs(store: Store) -> list[Run]:
    """One run in each terminal state."""
    runs = []
    for state in (RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.CANCELLED):
        add_runs(store)
        run = claim_one(store)
        assert store.run_finish(run, "w", state, result=1 if state == "succeeded" else None)
        runs.append(run)
    [waiting] = add_runs(store)
    runs.append(store.run_cancel(waiting.id))
    store.runs_add([NewRun("job")])
    run = claim_one(store, lease=0.01)
    deadline = store.now() + 15
    while not store.runs_rescue():
        assert store.now() < deadline
    assert store.run_get(run.id).state is RunState.LOST
    runs.append(run)
    add_due(store, "missed", late=30, misfire_grace=1.0, catchup="none")
    add_due(store, "skipped")
    store.schedules_fire_due(planner)
    claim_one(store, "busy")  # the active run that makes the next fire a skip
    sched = store.schedule_get("skipped")
    sched.next_fire_at = store.now() - 0.5
    store.schedule_replace(sched)
    store.schedules_fire_due(planner)
    runs += [r for r in store.run_list() if r.state in (RunState.MISSED, RunState.SKIPPED)]
    states = {store.run_get(r.id).state for r in runs}
    assert states == {RunState(s) for s in ("succeeded", "failed", "timed_out", "cancelled",
                                             "lost", "missed", "skipped")}
    return runs


def test_terminal_states_never_change(store: Store) -> None:
    runs = terminal_runs(store)
    before = {r.id: raw_run(store, r.id) for r in runs}
    for run in runs:
        for state in (RunState.SUCCEEDED, RunState.FAILED, RunState.RETRYING):
            stale = store.run_get(run.id)
            assert not store.run_finish(stale, "w", state, result=2)
            assert not store.run_finish(run, "w", state, result=2)
        with pytest.raises(Conflict):
            store.run_cancel(run.id)
        assert store.runs_release("w", [run.id]) == 0
    store.runs_heartbeat("w", 30, progress=[(r.id, r.attempt, 0.5, "x") for r in runs])
    assert store.runs_rescue() == []
    assert store.runs_rescue(owner="w") == []
    assert store.runs_claim("w", ["default"], 100, 30) == []
    assert {r.id: raw_run(store, r.id) for r in runs} == before


def test_logs_are_kept_in_order_and_paged(store: Store) -> None:
    [run] = add_runs(store)
    run = claim_one(store)
    t = store.now()
    store.runs_heartbeat("w", 30, logs=[(run.attempt, LogLine(run.id, t, "INFO", "one")),
                                        (run.attempt, LogLine(run.id, t + 0.1, "WARNING",
                                                              "two"))])
    store.runs_heartbeat("w", 30, logs=[(run.attempt, LogLine(run.id, t + 0.2, "INFO",
                                                              "three"))])
    assert store.run_finish(run, "w", RunState.SUCCEEDED,
                            logs=[LogLine(run.id, t + 0.3, "ERROR", "four")])
    lines = store.run_logs(run.id)
    assert [(x.level, x.message, x.ts) for x in lines] == [
        ("INFO", "one", t), ("WARNING", "two", t + 0.1), ("INFO", "three", t + 0.2),
        ("ERROR", "four", t + 0.3)]
    assert all(x.run_id == run.id for x in lines)
    assert [x.id for x in lines] == sorted({x.id for x in lines})
    first = store.run_logs(run.id, limit=3)
    rest = store.run_logs(run.id, after_id=first[-1].id)
    assert [x.message for x in first] == ["one", "two", "three"]
    assert [x.message for x in rest] == ["four"]
    assert store.run_logs(run.id, after_id=lines[-1].id) == []
    # the attempt has ended: later lines are refused (a worker writes a run's lines
    # before its outcome)
    store.runs_heartbeat("w", 30, logs=[(run.attempt, LogLine(run.id, t + 0.4, "INFO", "five"))])
    assert store.run_logs(run.id, after_id=lines[-1].id) == []
    assert store.run_logs(run.id + 1) == []


def test_prune_deletes_only_old_terminal_runs_in_batches_with_their_logs(store: Store) -> None:
    add_runs(store, 7)
    *finished, running = store.runs_claim("w", ["default"], 7, 30)
    [waiting] = add_runs(store)
    t = store.now()
    for run, state in zip(finished, [RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT,
                                      RunState.CANCELLED, RunState.SUCCEEDED, RunState.FAILED],
                          strict=True):
        assert store.run_finish(run, "w", state, logs=[LogLine(run.id, t, "INFO", f"{run.id}")])
    store.runs_heartbeat("w", 30, logs=[(running.attempt,
                                         LogLine(running.id, t, "INFO", f"{running.id}"))])
    *old, recent = finished
    backdate(store, [r.id for r in old], 7200)

    assert store.runs_prune(3600, batch=2) == 2
    assert store.runs_prune(3600, batch=2) == 2
    assert store.runs_prune(3600, batch=2) == 1
    assert store.runs_prune(3600, batch=2) == 0
    assert {r.id for r in store.run_list()} == {recent.id, waiting.id, running.id}
    for run in old:
        assert store.run_logs(run.id) == []
    assert [x.message for x in store.run_logs(recent.id)] == [f"{recent.id}"]
    assert [x.message for x in store.run_logs(running.id)] == [f"{running.id}"]


def test_ids_of_pruned_runs_are_never_reused(store: Store) -> None:
    """A run id in a URL, a log cursor or retry_of names one run forever."""
    runs = add_runs(store, 3)
    for run in runs:
        store.run_cancel(run.id)
    backdate(store, [r.id for r in runs], 7200)
    assert store.runs_prune(3600) == 3
    [new] = add_runs(store)
    assert new.id > max(r.id for r in runs)


def test_successes_and_failures_count_fired_runs_only_so_they_never_exceed_fires(
        store: Store) -> None:
    """A run started by hand, or a retry, sets the last state but counts in neither
    counter: "fires 1 / ok 3" would contradict itself."""
    fired = scheduled_run(store)
    assert store.run_finish(fired, "w", RunState.FAILED, error="boom")
    for origin in ("manual", "retry"):
        add_runs(store, schedule_id="s", origin=origin)
        assert store.run_finish(claim_one(store), "w", RunState.SUCCEEDED)
    [waiting] = add_runs(store, schedule_id="s", origin="manual")
    store.run_cancel(waiting.id)
    s = store.schedule_get("s")
    assert (s.fires, s.successes, s.failures, s.last_state) == (1, 0, 1, "cancelled")


def test_a_batch_of_outcomes_writes_each_field_of_each(store: Store) -> None:
    """One runs_finish batch of different outcomes: each run gets its own state, result,
    error, traceback, progress, retry delay and start; a stale item is refused alone."""
    from horae.store import Finish

    add_runs(store, 5)
    ok, bad, again, held, stale = store.runs_claim("w", ["default"], 5, 30, start_claimed=3)
    before = store.now()
    kept = store.runs_finish("w", [
        Finish(ok, RunState.SUCCEEDED, result={"é": [1, None, "x\"y"]}),
        Finish(bad, RunState.FAILED, error="KeyError: 'ü'", traceback="Traceback\n  ü",
               progress=(0.4, "stuck at 40 %")),
        Finish(again, RunState.RETRYING, error="boom", retry_delay=60.0),
        Finish(held, RunState.SUCCEEDED, ran_for=2.0, progress=(0.5, "half")),
        Finish(Run(stale.id, stale.task, RunState.RUNNING, attempt=stale.attempt + 1),
               RunState.SUCCEEDED),
    ])
    assert kept == [True, True, True, True, False]
    done, failed, waiting, late, untouched = (store.run_get(r.id)
                                              for r in (ok, bad, again, held, stale))
    assert (done.state, done.result, done.progress) == (RunState.SUCCEEDED,
                                                        {"é": [1, None, "x\"y"]}, 1.0)
    assert (failed.state, failed.error, failed.traceback) == (
        RunState.FAILED, "KeyError: 'ü'", "Traceback\n  ü")
    assert (failed.progress, failed.progress_message) == (0.4, "stuck at 40 %")
    assert done.finished_at is not None and failed.finished_at is not None
    assert (waiting.state, waiting.finished_at, waiting.lease_owner) == (
        RunState.RETRYING, None, None)
    assert waiting.not_before >= before + 59
    # held ahead (no start written): started ran_for before its outcome
    assert late.finished_at is not None and late.started_at is not None
    assert 1.5 <= late.finished_at - late.started_at <= 5
    assert late.progress_message == "half"
    assert (untouched.state, untouched.lease_owner) == (RunState.RUNNING, "w")
