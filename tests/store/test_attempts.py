"""run_attempts: every attempt of a retried run keeps its own outcome, error, worker and
log lines (migration 0010), whoever ends the attempt (a worker or a lease rescue)."""

from __future__ import annotations

import time

import pytest

from horae.errors import NotFound
from horae.models import LogLine, Run, RunState
from horae.store import Store
from tests.store.support import add_runs


def claim(store: Store, worker: str, lease: float = 30.0) -> Run:
    [run] = store.runs_claim(worker, ["default"], 1, lease)
    return run


def make_claimable(store: Store, run_id: int) -> None:
    """Skip the retry backoff (the test does not wait for it)."""
    with store.db.write() as tx:
        tx.run("UPDATE horae_runs SET not_before = 0 WHERE id = :id", {"id": run_id})


def test_each_attempt_has_its_own_outcome_error_worker_and_logs(store: Store) -> None:
    [queued] = add_runs(store, max_attempts=3)
    assert store.run_attempts(queued.id) == []   # nothing started yet
    first = claim(store, "w1")
    store.runs_heartbeat("w1", 30, logs=[(first.attempt, LogLine(first.id, time.time(),
                                                                   "INFO", "try one"))])
    assert store.run_finish(first, "w1", RunState.RETRYING, error="ValueError: one",
                            traceback="tb one", logs=[LogLine(first.id, time.time(),
                                                              "ERROR", "one failed")])
    make_claimable(store, first.id)
    second = claim(store, "w2")
    assert second.attempt == 2
    assert store.run_finish(second, "w2", RunState.RETRYING, error="timed out after 1s")
    make_claimable(store, first.id)
    third = claim(store, "w1")
    running = store.run_attempts(first.id)
    assert [(a.attempt, a.state, a.worker_id, a.error) for a in running] == [
        (1, "failed", "w1", "ValueError: one"), (2, "timed_out", "w2", "timed out after 1s"),
        (3, "running", "w1", None)]
    assert running[0].traceback == "tb one"
    assert all(a.started_at is not None for a in running)
    assert running[0].finished_at is not None and running[0].duration is not None
    assert running[2].finished_at is None
    assert store.run_finish(third, "w1", RunState.SUCCEEDED, result=1,
                            logs=[LogLine(first.id, time.time(), "INFO", "third works")])
    done = store.run_attempts(first.id)
    assert [(a.attempt, a.state, a.error) for a in done] == [
        (1, "failed", "ValueError: one"), (2, "timed_out", "timed out after 1s"),
        (3, "succeeded", None)]
    logs = store.run_logs(first.id)
    assert [(x.attempt, x.message) for x in logs] == [
        (1, "try one"), (1, "one failed"), (3, "third works")]


def test_a_rescued_attempt_is_recorded_as_lost(store: Store) -> None:
    [queued] = add_runs(store, max_attempts=2)
    run = claim(store, "gone", lease=0.001)
    assert run.attempt == 1
    deadline = time.monotonic() + 5
    while not store.runs_rescue() and time.monotonic() < deadline:
        pass   # the lease expires within milliseconds by the database's clock
    [lost] = store.run_attempts(queued.id)
    assert (lost.attempt, lost.state, lost.worker_id) == (1, "lost", "gone")
    assert lost.error is not None and "lease expired" in lost.error


def test_the_final_failure_is_the_run_row_once(store: Store) -> None:
    [queued] = add_runs(store, max_attempts=1)
    run = claim(store, "w")
    assert store.run_finish(run, "w", RunState.FAILED, error="boom")
    [only] = store.run_attempts(queued.id)
    assert (only.attempt, only.state, only.error) == (1, "failed", "boom")


def test_unknown_run_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.run_attempts(999_999)


def test_pruning_a_run_deletes_its_attempts(store: Store) -> None:
    [queued] = add_runs(store, max_attempts=2)
    first = claim(store, "w")
    assert store.run_finish(first, "w", RunState.RETRYING, error="one")
    make_claimable(store, queued.id)
    second = claim(store, "w")
    assert store.run_finish(second, "w", RunState.SUCCEEDED)
    assert len(store.run_attempts(queued.id)) == 2
    with store.db.write() as tx:   # finished two days ago
        tx.run("UPDATE horae_runs SET finished_at = finished_at - 172800 WHERE id = :id",
               {"id": queued.id})
    assert store.runs_prune(86400) == 1
    with store.db.read() as tx:
        left = tx.one("SELECT count(*) AS n FROM horae_run_attempts WHERE run_id = :id",
                      {"id": queued.id})
    assert left is not None and left["n"] == 0
