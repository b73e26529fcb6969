"""The hot paths' statements cost what they touch, never O(runs), whatever the planner's
statistics say (PostgreSQL plans, checked on tables analysed before most rows arrived).

The due pass costs O(due), never O(running runs).

Under load (100,000 polling schedules) a PostgreSQL table analysed while few runs were
running made the pass walk the partial index of every running run once per due schedule:
a pass of 2,000 due schedules over 60,000 running runs took 11 s instead of 20 ms, and
firing stalled. The pass's plan must read each due schedule's runs by ``schedule_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from horae.store import Store
from tests.store.support import interval, planner

DUE, SCHEDULES, RUNNING = 500, 20_000, 30_000


def _seed(store: Store) -> None:
    """SCHEDULES interval schedules (every 25th due), and finished runs, analysed; then
    RUNNING running runs that the statistics do not know about."""
    now = store.now()
    trigger = json.dumps(interval(60).to_dict())
    with store.db.write() as tx:
        tx.run(
            "INSERT INTO horae_schedules (id, task, trigger, args, kwargs, policies, paused,"
            " description, tags, next_fire_at, created_at, updated_at, version)"
            " SELECT 's' || g, 'job', :trigger, '[]', '{}', '{}', 0, '', '[]',"
            " CASE WHEN mod(g, 40) = 0 THEN :now - 1 ELSE :now + 1000 END, :now, :now, 1"
            " FROM generate_series(1, :n) g",
            {"trigger": trigger, "now": now, "n": SCHEDULES},
        )
        tx.run(_runs_sql("succeeded", "-g"), {"now": now, "n": SCHEDULES, "count": 40_000})
    with store.db.write() as tx:
        tx.run("ANALYZE horae_runs")
    with store.db.write() as tx:
        tx.run(_runs_sql("running", "g"), {"now": now, "n": SCHEDULES, "count": RUNNING})


def _runs_sql(state: str, fire_time: str) -> str:
    return (
        "INSERT INTO horae_runs (task, state, schedule_id, fire_time, origin, args, kwargs,"
        " queue, priority, not_before, created_at, max_attempts, retry_backoff,"
        f" retry_backoff_max) SELECT 'job', '{state}', 's' || (mod(g, :n) + 1), {fire_time},"
        " 'schedule', '[]', '{}', 'default', 0, 0, :now, 1, 1, 60"
        " FROM generate_series(1, :count) g"
    )


def _plan(store: Store, sql: str, params: dict[str, Any]) -> Any:
    with store.db.read() as tx:
        row = tx.one("EXPLAIN (FORMAT JSON) " + sql, params)
    assert row is not None
    plan = row["QUERY PLAN"]
    return json.loads(plan) if isinstance(plan, str) else plan


def _scans_of_runs(plan: Any) -> Iterator[dict[str, Any]]:
    if isinstance(plan, dict):
        if plan.get("Relation Name") == "horae_runs":
            yield plan
        for value in plan.values():
            yield from _scans_of_runs(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _scans_of_runs(item)


@pytest.mark.postgres
def test_due_pass_reads_runs_by_schedule_with_stale_statistics(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        store.migrate()
        _seed(store)
        plan = _plan(store, store.due_sql(" FOR UPDATE OF s SKIP LOCKED"), {"limit": 2000})
        scans = list(_scans_of_runs(plan))
        assert len(scans) == 4, scans  # active, running, oldest active, already fired
        for scan in scans:
            # An index condition on schedule_id bounds each count to one schedule's runs;
            # a filter on it means every running run is read once per due schedule.
            assert "schedule_id" in scan.get("Index Cond", ""), scan
            assert "schedule_id" not in scan.get("Filter", ""), scan

        out = store.schedules_fire_due(planner, limit=2000)
        assert out.schedules == SCHEDULES // 40 == DUE
    finally:
        store.close()


@pytest.mark.postgres
def test_an_outcome_batch_locks_its_runs_by_primary_key(pg_url: str) -> None:
    """The lock step of every outcome batch, cancel and rescue reads the runs it names
    (and their parents) by id: it read the whole table once per batch before."""
    store = Store(pg_url)
    try:
        store.migrate()
        _seed(store)
        params = {"ids": list(range(1000, 1200))}
        for sql in store.lock_runs_sql():
            scans = list(_scans_of_runs(_plan(store, sql, params)))
            assert scans, sql
            for scan in scans:
                assert scan["Node Type"] != "Seq Scan", scan
                assert "horae_runs_pkey" in scan.get("Index Name", ""), scan
    finally:
        store.close()
