"""Leases: rescue of expired or orphaned runs, and fencing of stale workers (guarantee 7)."""

from __future__ import annotations

from horae.models import LogLine, Run, RunState
from horae.store import Finish, NewRun, Store
from tests.store.support import add_due, add_runs, planner, raw_run


def claim_one(store: Store, worker: str, lease: float = 30.0) -> Run:
    [run] = store.runs_claim(worker, ["default"], 1, lease)
    return run


def rescued(store: Store, timeout: float = 15.0) -> list[Run]:
    """Poll runs_rescue until a lease expires (by the database's clock)."""
    deadline = store.now() + timeout
    while not (runs := store.runs_rescue()):
        assert store.now() < deadline, "no lease expired"
    return runs


def test_an_expired_lease_with_attempts_left_is_retried_after_its_backoff(store: Store) -> None:
    store.runs_add([NewRun("job", max_attempts=2, retry_backoff=0.2)])
    run = claim_one(store, "w1", lease=0.05)
    [back] = rescued(store)
    now = store.now()
    assert back.id == run.id
    assert back.state is RunState.RETRYING
    assert back.lease_owner is None and back.lease_expires_at is None
    assert back.finished_at is None
    assert back.error is not None and "w1" in back.error
    assert now - 1 <= back.not_before - 0.2 <= now
    assert store.run_get(run.id) == back
    assert store.runs_rescue() == []

    deadline = store.now() + 15
    while not (again := store.runs_claim("w2", ["default"], 1, 0.05)):
        assert store.now() < deadline
    assert again[0].id == run.id and again[0].attempt == 2
    assert again[0].started_at >= back.not_before

    [lost] = rescued(store)
    assert lost.state is RunState.LOST
    assert lost.finished_at is not None
    assert store.runs_claim("w3", ["default"], 1, 30) == []


def test_rescue_counts_a_lost_scheduled_run_as_a_failure(store: Store) -> None:
    add_due(store, "s")
    store.schedules_fire_due(planner)
    claim_one(store, "w1", lease=0.05)
    [lost] = rescued(store)
    assert lost.state is RunState.LOST
    s = store.schedule_get("s")
    assert (s.failures, s.successes, s.last_state) == (1, 0, "lost")
    assert s.last_run_at is not None


def test_rescue_of_a_run_whose_cancel_was_asked_cancels_it(store: Store) -> None:
    store.runs_add([NewRun("job", max_attempts=5)])
    run = claim_one(store, "w1", lease=0.05)
    store.run_cancel(run.id)
    [back] = rescued(store)
    assert back.state is RunState.CANCELLED
    assert back.finished_at is not None


def test_a_live_lease_is_not_rescued_and_heartbeat_keeps_it(store: Store) -> None:
    add_runs(store, 2)
    live = claim_one(store, "w1", lease=30)
    short = claim_one(store, "w2", lease=0.3)
    assert store.runs_rescue() == []
    renewed_until = store.now() + 60
    store.runs_heartbeat("w2", 60)
    assert store.run_get(short.id).lease_expires_at >= renewed_until
    assert store.runs_rescue() == []
    assert store.run_get(live.id).state is store.run_get(short.id).state is RunState.RUNNING


def test_a_restarted_worker_takes_back_its_runs_at_once(store: Store) -> None:
    add_runs(store, 3, max_attempts=2)
    mine = store.runs_claim("w1", ["default"], 2, 3600)
    theirs = claim_one(store, "w2", lease=3600)
    back = store.runs_rescue(owner="w1")
    assert sorted(r.id for r in back) == sorted(r.id for r in mine)
    assert all(r.state is RunState.RETRYING for r in back)
    assert store.run_get(theirs.id).state is RunState.RUNNING
    assert store.runs_rescue(owner="w1") == []


def test_a_stale_worker_changes_nothing(store: Store) -> None:
    """Guarantee 7: once its lease is lost, the old owner's finish, heartbeat and progress
    are refused, whether the run waits for another attempt or another worker holds it."""
    store.runs_add([NewRun("job", max_attempts=3, retry_backoff=0.01)])
    old = claim_one(store, "old", lease=0.05)
    rescued(store)
    frozen = raw_run(store, old.id)

    def stale_writes() -> None:
        t = store.now()
        assert not store.run_finish(old, "old", RunState.SUCCEEDED, result="late",
                                    logs=[LogLine(old.id, t, "INFO", "stale finish")])
        assert not store.run_finish(old, "old", RunState.RETRYING, retry_delay=100)
        assert store.runs_heartbeat(
            "old", 3600, progress=[(old.id, old.attempt, 0.5, "stale")],
            logs=[(old.attempt, LogLine(old.id, t, "INFO", "stale heartbeat"))],
        ) == set()

    stale_writes()
    assert raw_run(store, old.id) == frozen
    # a refused finish or heartbeat keeps none of its lines
    assert store.run_logs(old.id) == []

    deadline = store.now() + 15
    while not (taken := store.runs_claim("new", ["default"], 1, 30)):
        assert store.now() < deadline
    new = taken[0]
    assert new.attempt == old.attempt + 1
    held = raw_run(store, old.id)
    stale_writes()
    # the old owner with the new attempt number is still not the owner
    assert not store.run_finish(new, "old", RunState.FAILED, error="not mine")
    assert raw_run(store, old.id) == held
    assert store.run_logs(old.id) == []

    store.runs_heartbeat("new", 30, progress=[(new.id, new.attempt, 0.25, "a quarter")],
                         logs=[(new.attempt, LogLine(new.id, store.now(), "INFO", "fresh"))])
    progressed = store.run_get(new.id)
    assert (progressed.progress, progressed.progress_message) == (0.25, "a quarter")
    assert store.run_finish(new, "new", RunState.SUCCEEDED, result="ok")
    assert store.run_get(new.id).result == "ok"
    assert [x.message for x in store.run_logs(old.id)] == ["fresh"]


def test_progress_is_fenced_on_the_attempt(store: Store) -> None:
    [run] = add_runs(store)
    run = claim_one(store, "w")
    store.runs_heartbeat("w", 30, progress=[(run.id, run.attempt + 1, 0.9, "wrong attempt")])
    store.runs_heartbeat("x", 30, progress=[(run.id, run.attempt, 0.9, "wrong owner")])
    assert store.run_get(run.id).progress is None
    store.runs_heartbeat("w", 30, progress=[(run.id, run.attempt, 0.5, None)])
    assert store.run_get(run.id).progress == 0.5


def test_runs_claimed_ahead_and_never_started_are_rescued_unspent(store: Store) -> None:
    """Only runs whose code started lose an attempt: held ones go back to the queue."""
    add_runs(store, 4, max_attempts=1)
    claimed = store.runs_claim("w1", ["default"], 4, 0.05, start_claimed=1)
    started, held = claimed[0], claimed[1:]
    assert store.run_get(started.id).started_at is not None
    assert [store.run_get(r.id).started_at for r in held] == [None] * 3
    # held[0] was handed to execution later; w2's word about held[1] is refused
    store.runs_heartbeat("w1", 0.05, started=[(held[0].id, held[0].attempt, 0.0)])
    store.runs_heartbeat("w2", 0.05, started=[(held[1].id, held[1].attempt, 0.0)])
    store.run_cancel(held[2].id)
    back = {r.id: r for r in rescued(store)}
    assert len(back) == 4
    assert back[started.id].state is back[held[0].id].state is RunState.LOST
    unspent = back[held[1].id]
    assert (unspent.state, unspent.attempt, unspent.started_at) == (RunState.QUEUED, 0, None)
    assert (unspent.lease_owner, unspent.error, unspent.finished_at) == (None, None, None)
    assert back[held[2].id].state is RunState.CANCELLED
    assert back[held[2].id].attempt == 0
    [again] = store.runs_claim("w2", ["default"], 1, 30)
    assert (again.id, again.attempt) == (unspent.id, 1)
    assert again.started_at is not None


def test_the_start_of_a_held_run_is_written_by_a_heartbeat_or_its_outcome(
    store: Store,
) -> None:
    add_runs(store, 3)
    a, b, c = store.runs_claim("w", ["default"], 3, 30, start_claimed=0)
    assert [store.run_get(r.id).started_at for r in (a, b, c)] == [None] * 3
    store.runs_heartbeat("w", 30, started=[(a.id, a.attempt, 2.0)])
    now = store.now()
    assert now - 3 < store.run_get(a.id).started_at <= now - 2  # when its code started
    store.runs_finish("w", [Finish(b, RunState.SUCCEEDED, ran_for=1.5),
                            Finish(c, RunState.CANCELLED, error="cancelled before it started")])
    done = store.run_get(b.id)
    assert done.duration is not None and abs(done.duration - 1.5) < 0.01
    assert store.run_get(c.id).started_at is None  # never started
    # a start already written stays: the heartbeat's word comes first
    store.runs_heartbeat("w", 30, started=[(a.id, a.attempt, 0.0)])
    assert store.run_get(a.id).started_at <= now - 2


def test_log_lines_are_fenced_on_the_attempt_and_its_lease(store: Store) -> None:
    """A worker that resumes after its run was rescued, even one that then took the run
    again itself, adds nothing to the log of the attempt it lost."""
    store.runs_add([NewRun("job", max_attempts=3, retry_backoff=0.01)])
    first = claim_one(store, "w", lease=0.05)

    def line(attempt: int, text: str) -> tuple[int, LogLine]:
        return (attempt, LogLine(first.id, store.now(), "INFO", text))

    store.runs_heartbeat("w", 0.05, logs=[line(first.attempt, "first, live")])
    rescued(store)
    store.runs_heartbeat("w", 30, logs=[line(first.attempt, "first, rescued")])
    deadline = store.now() + 15
    while not (again := store.runs_claim("w", ["default"], 1, 30)):
        assert store.now() < deadline
    second = again[0]
    assert (second.id, second.attempt) == (first.id, first.attempt + 1)
    store.runs_heartbeat("w", 30, logs=[line(first.attempt, "first, taken again"),
                                        line(second.attempt, "second, live")])
    store.runs_heartbeat("x", 30, logs=[line(second.attempt, "not x's")])
    assert [x.message for x in store.run_logs(first.id)] == ["first, live", "second, live"]
