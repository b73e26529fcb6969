"""expire_after end to end: while no worker serves the queue, stale polls become missed with
their reason instead of piling up; the worker that comes later runs only a fresh one."""

from __future__ import annotations

import pytest

from horae import Horae, InvalidInput, RunState, interval
from tests.conftest import eventually
from tests.integration import sample_tasks


def test_stale_polls_are_missed_and_a_late_worker_runs_only_fresh_ones(
        shared_db_url: str) -> None:
    firing = Horae(shared_db_url)
    sample_tasks.register(firing)
    firing.start(worker=False)  # a scheduler, and no worker yet
    working = Horae(shared_db_url)
    sample_tasks.register(working)
    try:
        firing.schedules.add("poll", "add", interval(0.2), args=[1, 2], expire_after=0.5)

        def missed() -> list[str]:
            return [r.error or "" for r in firing.runs.list(schedule_id="poll", limit=1000)
                    if r.state is RunState.MISSED]

        reasons = eventually(lambda: len(missed()) >= 2 and missed(), timeout=20)
        assert all(r.startswith("expire_after=0.5 s: not started within 0.5 s") for r in reasons)
        assert firing.schedules.get("poll").missed >= 2
        working.start(scheduler=False, concurrency=2)
        done = eventually(lambda: [r for r in firing.runs.list(schedule_id="poll", limit=1000)
                                   if r.state is RunState.SUCCEEDED], timeout=20)
        for run in done:  # none of them had waited past its expiry when it started
            assert run.started_at is not None and run.expires_at is not None
            assert run.started_at <= run.expires_at
        for run in firing.runs.list(schedule_id="poll", limit=1000):
            if run.state is RunState.MISSED:
                assert run.started_at is None and run.attempt == 0
    finally:
        working.stop(grace=1.0)
        firing.stop(grace=1.0)


@pytest.mark.parametrize("bad", [0, -1, "soon"])
def test_expire_after_must_be_positive_seconds(database_url: str, bad: object) -> None:
    app = Horae(database_url)
    sample_tasks.register(app)
    with pytest.raises(InvalidInput) as caught:
        app.schedules.add("poll", "add", interval(1), args=[1, 2], expire_after=bad)
    assert "expire_after" in caught.value.field
    assert app.schedules.list() == []


def test_a_sweep_expires_batch_after_batch_up_to_its_bound(database_url: str) -> None:
    from horae.scheduler import Scheduler
    from tests.store.support import add_due, planner

    app = Horae(database_url)
    for i in range(5):
        add_due(app.store, f"poll-{i}", late=30, expire_after=10)
    app.store.schedules_fire_due(planner)
    assert Scheduler._expire(app.store, batch=2, batches=2) == 4  # two whole batches
    assert Scheduler._expire(app.store, batch=2, batches=2) == 1
    assert Scheduler._expire(app.store, batch=2, batches=2) == 0
