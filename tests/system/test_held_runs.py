"""kill -9 of a worker holding prefetched runs: the ones it never started lose nothing."""

from __future__ import annotations

import pytest

from horae import Horae, RunState
from tests.conftest import eventually
from tests.system import apps
from tests.system.procs import kill_hard, spawn, stop

pytestmark = pytest.mark.system


def test_prefetched_runs_of_a_killed_worker_run_again_with_no_attempt_lost(
    shared_db_url: str, tmp_path
) -> None:
    client = Horae(shared_db_url)
    for task in apps.app.registry:
        client.registry.add(task)
    busy = client.runs.create("sleepy", kwargs={"seconds": 120})  # retries=0, like noop
    held = [client.runs.create("noop").id for _ in range(3)]
    worker = spawn(shared_db_url, "worker", "-c", "1", "--prefetch", "3", "--lease", "1.5",
                   log=tmp_path / "worker1.log")
    try:
        # One slot, busy: the three noops are claimed ahead (leased) but not started.
        eventually(lambda: all(client.runs.get(i).state is RunState.RUNNING
                               for i in [busy.id, *held]), timeout=30)
        assert client.runs.get(busy.id).started_at is not None
        assert [client.runs.get(i).started_at for i in held] == [None] * 3
    finally:
        kill_hard(worker)
    client.start(worker=False)  # a scheduler: it sweeps the expired leases
    lost = client.runs.wait(busy.id, timeout=30)
    assert (lost.state, lost.attempt) == (RunState.LOST, 1)  # it had started: spent
    back = eventually(lambda: all(client.runs.get(i).state is RunState.QUEUED for i in held),
                      timeout=30)
    assert back
    for run in (client.runs.get(i) for i in held):
        assert (run.attempt, run.started_at, run.lease_owner) == (0, None, None)
    replacement = spawn(shared_db_url, "worker", "--lease", "1.5", log=tmp_path / "worker2.log")
    try:
        done = [client.runs.wait(i, timeout=30) for i in held]
    finally:
        assert stop(replacement) == 0, (tmp_path / "worker2.log").read_text()
    assert [(r.state, r.attempt) for r in done] == [(RunState.SUCCEEDED, 1)] * 3
    client.stop()
