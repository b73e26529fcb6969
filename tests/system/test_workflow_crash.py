"""kill -9 of a worker in the middle of a workflow step: the step's run is rescued like any
run (retried, or lost), and the workflow run goes on from that outcome."""

from __future__ import annotations

import os

import pytest

from horae import Horae, RunState
from tests.conftest import eventually
from tests.system import apps
from tests.system.procs import kill_hard, spawn, stop

pytestmark = pytest.mark.system


@pytest.mark.parametrize(("task", "final"), [("sleepy.retry", "succeeded"),
                                             ("sleepy", "failed")])
def test_worker_killed_mid_step(shared_db_url: str, tmp_path, task: str, final: str) -> None:
    client = Horae(shared_db_url)
    for t in apps.app.registry:
        client.registry.add(t)
    client.start(worker=False)  # a scheduler, which sweeps expired leases
    marker = str(tmp_path / "marker")
    kwargs = {"seconds": 120} | ({"marker": marker} if task == "sleepy.retry" else {})
    client.workflows.add("crash", {"steps": [
        {"id": "first", "task": "noop"},
        {"id": "mid", "task": task, "after": ["first"], "kwargs": kwargs},
        {"id": "last", "task": "noop", "after": ["mid"]}]})
    worker = spawn(shared_db_url, "worker", "--lease", "1.5", "-c", "2",
                   log=tmp_path / "worker1.log")
    replacement = None
    try:
        started = client.workflows.run("crash")

        def mid() -> list:
            return client.runs.list(parent_id=started.id, step="mid")

        eventually(lambda: mid() and mid()[0].state is RunState.RUNNING, timeout=20)
        if task == "sleepy.retry":  # its code is running (not only claimed)
            eventually(lambda: os.path.exists(marker), timeout=20)
        kill_hard(worker)
        replacement = spawn(shared_db_url, "worker", "--lease", "1.5",
                            log=tmp_path / "worker2.log")
        done = client.runs.wait(started.id, timeout=45)
        steps = {r.step: r for r in client.runs.list(parent_id=started.id)}
    finally:
        for proc in (worker, replacement):
            if proc is not None and proc.poll() is None:
                stop(proc)
        client.stop()
    assert done.state.value == final, done.error
    if final == "succeeded":
        assert (steps["mid"].state, steps["mid"].attempt) == (RunState.SUCCEEDED, 2)
        assert steps["last"].inputs == {"mid": "second attempt"}
    else:
        assert steps["mid"].state is RunState.LOST
        assert "lease expired" in (steps["mid"].error or "")
        assert (steps["last"].state, steps["last"].error) == (
            RunState.SKIPPED, "upstream step 'mid' was lost")
        assert done.error == "step 'last' was skipped: its upstream failed"
