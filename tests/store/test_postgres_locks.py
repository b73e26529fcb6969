"""PostgreSQL row locks: a scheduler firing a schedule and a worker, operator or sweeper
changing one of its runs at the same moment must both succeed, never deadlock.

The planner runs inside schedules_fire_due's transaction, after the schedule rows are
locked: the test uses it to hold the scheduler there until the other writer is waiting on
a lock, which makes the interleaving deterministic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from horae.errors import Conflict
from horae.models import Overlap, Run, RunState
from horae.store import DueRow, Store
from tests.store.support import add_due, make_due, planner, runs_of

pytestmark = pytest.mark.postgres



def blocked_by(url: str, pid: int) -> Callable[[], bool]:
    """Whether some backend waits on a lock that backend ``pid`` holds."""
    monitor = psycopg.connect(url, autocommit=True)

    def check() -> bool:
        row = monitor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [pid],
        ).fetchone()
        return bool(row and row[0])

    check.close = monitor.close  # type: ignore[attr-defined]
    return check


def race_with_fire(store: Store, url: str, other: Callable[[], Any]) -> Any:
    """Fire due schedules while ``other`` runs in a thread that blocks on their rows."""
    outcome: dict[str, Any] = {}

    def run_other() -> None:
        try:
            outcome["other"] = other()
        except Exception as exc:  # returned, so each test says which errors are right
            outcome["other"] = exc

    thread = threading.Thread(target=run_other)

    waiting: Callable[[], bool] | None = None

    def held_planner(rows: list[DueRow], now: float) -> list[Any]:
        nonlocal waiting
        # the scheduler's own connection: the planner runs in its transaction and thread
        waiting = blocked_by(url, store.db._local.held.conn.info.backend_pid)  # type: ignore[attr-defined]
        thread.start()
        deadline = time.monotonic() + 10
        while not waiting():
            assert time.monotonic() < deadline, "the other writer never waited on a lock"
        return planner(rows, now)

    try:
        store.schedules_fire_due(held_planner)
    finally:
        thread.join(timeout=30)
        if waiting is not None:
            waiting.close()  # type: ignore[attr-defined]
    assert not isinstance(outcome["other"], psycopg.Error), outcome["other"]
    return outcome["other"]


def cancel_previous_running(store: Store) -> Run:
    add_due(store, "s", overlap=Overlap.CANCEL_PREVIOUS)
    store.schedules_fire_due(planner)
    [run] = store.runs_claim("w", ["default"], 1, 0.05)
    make_due(store, "s")
    return run


def test_a_worker_finishing_while_the_schedule_fires(pg_store: Store, pg_url: str) -> None:
    run = cancel_previous_running(pg_store)
    assert race_with_fire(pg_store, pg_url,
                          lambda: pg_store.run_finish(run, "w", RunState.SUCCEEDED, result=1))
    first, second = runs_of(pg_store, "s")
    assert first.state is RunState.SUCCEEDED and second.state is RunState.QUEUED
    assert pg_store.schedule_get("s").successes == 1


def test_a_sweeper_rescuing_while_the_schedule_fires(pg_store: Store, pg_url: str) -> None:
    run = cancel_previous_running(pg_store)
    deadline = time.monotonic() + 10
    while pg_store.run_get(run.id).lease_expires_at > pg_store.now():
        assert time.monotonic() < deadline
    rescued = race_with_fire(pg_store, pg_url, pg_store.runs_rescue)
    # the newer fire asked the old run to stop first, so the sweeper records a cancel
    assert [(r.id, r.state) for r in rescued] == [(run.id, RunState.CANCELLED)]
    assert [r.state for r in runs_of(pg_store, "s")] == [RunState.CANCELLED, RunState.QUEUED]
    assert pg_store.schedule_get("s").last_state == "cancelled"


def test_an_operator_cancelling_while_the_schedule_fires(pg_store: Store, pg_url: str) -> None:
    add_due(pg_store, "s", overlap=Overlap.CANCEL_PREVIOUS)
    pg_store.schedules_fire_due(planner)
    [run] = runs_of(pg_store, "s")
    make_due(pg_store, "s")
    answer = race_with_fire(pg_store, pg_url, lambda: pg_store.run_cancel(run.id))
    # the newer fire cancelled it first; the operator is told so
    assert isinstance(answer, Conflict), answer
    first, second = runs_of(pg_store, "s")
    assert first.state is RunState.CANCELLED and second.state is RunState.QUEUED
