"""A worker whose run was rescued from under it adds nothing more to that run's log."""

from __future__ import annotations

import time

from horae import Horae, RunState
from tests.conftest import eventually
from tests.integration import sample_tasks


def test_a_worker_resuming_after_its_run_was_rescued_writes_no_stale_lines(
    database_url: str,
) -> None:
    app = Horae(database_url)
    sample_tasks.register(app)
    app.start(scheduler=False, concurrency=2, lease=30.0)
    try:
        run = app.runs.create("ticker", kwargs={"seconds": 60})
        eventually(lambda: len(app.runs.logs(run.id)) >= 3)  # its heartbeats write lines
        # What a scheduler does once the lease of a frozen worker expired; the worker's
        # thread goes on ticking, and its heartbeats go on sending the lines.
        rescued_at = time.time()
        [lost] = app.store.runs_rescue(owner=app.worker.id)
        assert lost.state is RunState.LOST

        def heartbeat_at() -> float:
            [me] = [w for w in app.store.workers_list() if w.id == app.worker.id]
            return me.heartbeat_at

        after = app.store.now()
        eventually(lambda: heartbeat_at() > after)  # one heartbeat since the rescue...
        after = app.store.now()
        eventually(lambda: heartbeat_at() > after)  # ...and another: lines were sent
        stale = [x.message for x in app.runs.logs(run.id) if x.ts > rescued_at]
        assert stale == []
    finally:
        app.stop(grace=0.5)
