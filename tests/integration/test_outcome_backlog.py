"""The worker stops claiming while its outcome backlog is full (issue #11, item 1).

The outcome path is made slow for real: a transaction of the test holds the schedule row
every outcome batch must lock first (the one lock order: schedules before runs), so
outcomes wait while claims, which never touch schedules, could go on.
"""

from __future__ import annotations

import psycopg
import pytest

from horae import Horae, RunState, interval
from horae.store import NewRun
from tests.conftest import eventually

N = 300
BOUND = 20
CONCURRENCY = 4


def _not_queued(app: Horae) -> int:
    with app.store.db.read() as tx:
        row = tx.one("SELECT count(*) AS n FROM horae_runs WHERE state <> 'queued'")
    assert row is not None
    return int(row["n"])


def test_claims_pause_while_outcomes_cannot_be_written(pg_url: str) -> None:
    app = Horae(pg_url)

    @app.task("tick")
    async def tick() -> None:
        return None

    sid = app.schedules.add("backlog", "tick", interval(hours=1), paused=True).id
    app.store.runs_add([NewRun("tick", schedule_id=sid, origin="schedule")
                        for _ in range(N)])
    blocker = psycopg.connect(pg_url)  # the slow outcome path
    blocker.execute("SELECT id FROM horae_schedules WHERE id = %s FOR UPDATE", (sid,))
    app.start(scheduler=False, concurrency=CONCURRENCY, prefetch=CONCURRENCY,
              max_backlog=BOUND, poll_interval=0.05)
    worker = app.worker
    try:
        eventually(lambda: worker.claims_paused, timeout=20)
        assert worker.claim_pauses == 1
        held = _not_queued(app)
        # At most the bound, plus what was running or held ahead when it was reached.
        assert BOUND <= held <= BOUND + 2 * CONCURRENCY + 1
        rounds = worker.claim_rounds
        eventually(lambda: worker.claim_rounds >= rounds + 5)  # the claim loop goes round
        assert _not_queued(app) == held  # ... and claims nothing
        assert worker.claims_paused and worker._reporter.backlog >= BOUND
        blocker.rollback()  # the database is fast again
        eventually(lambda: _not_queued(app) == N and not worker.claims_paused, timeout=30)
        eventually(lambda: all(r.state is RunState.SUCCEEDED
                               for r in app.runs.list(schedule_id=sid, limit=N)), timeout=30)
    finally:
        blocker.close()
        app.stop(grace=1.0)


@pytest.mark.parametrize("bound", [0, -3])
def test_backlog_bound_is_at_least_one(pg_url: str, bound: int) -> None:
    from horae.worker.worker import Worker

    assert Worker(Horae(pg_url), max_backlog=bound).max_backlog == 1
