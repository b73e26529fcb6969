"""Expiry (store/expiry.py): a fired run not started by its ``expires_at`` is never started;
the sweep records it as missed, with its reason, on its schedule's counters."""

from __future__ import annotations

from horae.models import RunState
from horae.store import Store
from tests.store.support import add_due, make_due, planner, raw_run, runs_of


def fire(store: Store) -> None:
    store.schedules_fire_due(planner)


def test_an_expired_run_is_never_claimed_and_the_sweep_records_it_missed(store: Store) -> None:
    add_due(store, "poll", late=30, expire_after=10)  # due 30 s ago: 20 s past its expiry
    fire(store)
    [run] = runs_of(store, "poll")
    assert run.state is RunState.QUEUED and run.expires_at is not None
    assert run.expires_at == run.not_before + 10
    assert store.runs_claim("w", ["default"], 10, 30) == []

    assert store.runs_expire() == 1
    [run] = runs_of(store, "poll")
    assert run.state is RunState.MISSED and run.finished_at is not None
    assert run.started_at is None and run.attempt == 0
    assert run.error is not None and run.error.startswith("expire_after=10 s: not started")
    assert "queue 'default'" in run.error
    s = store.schedule_get("poll")
    assert (s.missed, s.last_state) == (1, "missed")
    assert store.runs_expire() == 0


def test_a_run_before_its_expiry_is_claimed_and_never_expired(store: Store) -> None:
    add_due(store, "poll", expire_after=60)
    fire(store)
    [claimed] = store.runs_claim("w", ["default"], 10, 30)
    assert claimed.expires_at is not None
    with store.db.write() as tx:  # even once the instant has passed: it started
        tx.run("UPDATE horae_runs SET expires_at = expires_at - 3600")
    assert store.runs_expire() == 0
    assert store.run_get(claimed.id).state is RunState.RUNNING


def test_a_run_waiting_for_its_retry_does_not_expire(store: Store) -> None:
    add_due(store, "poll", expire_after=5, retries=1, retry_backoff=1)
    fire(store)
    [claimed] = store.runs_claim("w", ["default"], 10, 30)
    assert store.run_finish(claimed, "w", RunState.RETRYING, error="boom", retry_delay=0)
    with store.db.write() as tx:
        tx.run("UPDATE horae_runs SET expires_at = expires_at - 3600")
    assert store.run_get(claimed.id).state is RunState.RETRYING
    assert store.runs_expire() == 0
    [again] = store.runs_claim("w", ["default"], 10, 30)
    assert (again.id, again.attempt) == (claimed.id, 2)


def test_without_expire_after_a_run_waits_as_long_as_it_takes(store: Store) -> None:
    add_due(store, "report", late=30)
    fire(store)
    [run] = runs_of(store, "report")
    assert run.expires_at is None and raw_run(store, run.id)["expires_at"] is None
    assert store.runs_expire() == 0
    assert [r.id for r in store.runs_claim("w", ["default"], 10, 30)] == [run.id]


def test_a_manual_retry_of_an_expired_run_has_no_expiry(store: Store) -> None:
    add_due(store, "poll", late=30, expire_after=10)
    fire(store)
    store.runs_expire()
    [missed] = runs_of(store, "poll")
    again = store.run_retry(missed.id)
    assert again.expires_at is None
    assert [r.id for r in store.runs_claim("w", ["default"], 10, 30)] == [again.id]


def test_the_sweep_goes_in_batches(store: Store) -> None:
    for i in range(5):
        add_due(store, f"poll-{i}", late=30, expire_after=10)
    fire(store)
    assert [store.runs_expire(limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert {r.state for i in range(5) for r in runs_of(store, f"poll-{i}")} == {RunState.MISSED}


def test_once_expired_a_waiting_run_no_longer_holds_back_the_next_fire(store: Store) -> None:
    add_due(store, "poll", late=30, expire_after=10)  # overlap=skip by default
    fire(store)
    make_due(store, "poll")
    fire(store)  # the stale run still waits: this fire is skipped
    assert [r.state for r in runs_of(store, "poll")] == [RunState.QUEUED, RunState.SKIPPED]
    store.runs_expire()
    make_due(store, "poll")
    fire(store)
    states = [r.state for r in runs_of(store, "poll")]
    assert states == [RunState.MISSED, RunState.SKIPPED, RunState.QUEUED]
    [fresh] = store.runs_claim("w", ["default"], 10, 30)
    assert fresh.id == runs_of(store, "poll")[-1].id
