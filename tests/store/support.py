"""Shared by the store conformance suite and the processes it starts.

The planner is the scheduler's, minus its cache: ``plan_fires`` over each due row.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

from horae.models import Policies, Run, Schedule
from horae.policies import DueSchedule, FirePlan, plan_fires
from horae.store import DueRow, NewRun, Store
from horae.store.rows import policies_from_json
from horae.triggers import cron, interval, trigger_from_dict

__all__ = ["cron", "interval"]

_RNG = random.Random(7)


def planner(rows: list[DueRow], now: float) -> list[FirePlan]:
    """What each due fire becomes: the same decisions the scheduler makes."""
    plans = []
    for row in rows:
        due = DueSchedule(
            row.id, trigger_from_dict(json.loads(row.trigger)), policies_from_json(row.policies),
            row.next_fire_at, row.fires, row.waiting, row.running, row.oldest_active_at,
        )
        plans.append(plan_fires(due, now, _RNG))
    return plans


def schedule(
    sid: str,
    *,
    trigger: dict[str, Any] | None = None,
    next_fire_at: float | None = None,
    task: str = "job",
    **policies: Any,
) -> Schedule:
    """A schedule every 100 s (no anchor: each fire is 100 s after the previous one)."""
    return Schedule(
        id=sid,
        task=task,
        trigger=trigger or interval(100).to_dict(),
        args=[1, "two"],
        kwargs={"k": "v"},
        policies=Policies(**policies),
        next_fire_at=next_fire_at,
    )


def add_due(store: Store, sid: str, *, late: float = 0.01, **kw: Any) -> Schedule:
    """Add a schedule whose first fire was ``late`` seconds ago by the database's clock."""
    return store.schedule_add(schedule(sid, next_fire_at=store.now() - late, **kw))


def make_due(store: Store, sid: str, late: float = 0.01) -> float:
    """Move a schedule's next fire to ``late`` seconds ago (an edit); returns that instant.

    Always after its last fire: SQLite's clock ticks in milliseconds.
    """
    s = store.schedule_get(sid)
    fired = [r.fire_time for r in runs_of(store, sid) if r.fire_time is not None]
    s.next_fire_at = max([store.now() - late] + [f + late / 10 for f in fired])
    store.schedule_replace(s)
    return s.next_fire_at


def runs_of(store: Store, sid: str) -> list[Run]:
    """The schedule's runs, oldest first."""
    from horae.store import RunFilter

    return sorted(store.run_list(RunFilter(schedule_id=sid, limit=100_000)), key=lambda r: r.id)


def add_runs(store: Store, n: int = 1, **kw: Any) -> list[Run]:
    kw.setdefault("task", "job")
    return store.runs_add([NewRun(**kw) for _ in range(n)])


def raw_run(store: Store, run_id: int) -> dict[str, Any]:
    """Every column of a run, as stored (to prove a refused write changed nothing)."""
    with store.db.read() as tx:
        row = tx.one("SELECT * FROM horae_runs WHERE id = :id", {"id": run_id})
    assert row is not None
    return row


def backdate(store: Store, run_ids: Iterable[int], seconds: float) -> None:
    """Pretend runs finished ``seconds`` earlier than they did (arranging retention tests)."""
    with store.db.write() as tx:
        for run_id in run_ids:
            tx.run(
                "UPDATE horae_runs SET finished_at = finished_at - :s WHERE id = :id",
                {"s": seconds, "id": run_id},
            )
