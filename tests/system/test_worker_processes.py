"""``horae worker --processes N``: N supervised worker processes (issue #11, item 3)."""

from __future__ import annotations

import os
import signal

import pytest

from horae import Horae, RunState
from horae.store import NewRun
from tests.conftest import eventually
from tests.system import apps
from tests.system.procs import spawn, stop

pytestmark = pytest.mark.system


def _client(url: str) -> Horae:
    client = Horae(url)
    for task in apps.app.registry:
        client.registry.add(task)
    return client


def _workers(client: Horae) -> dict[str, tuple[int, str]]:
    return {w.id: (w.pid, w.state) for w in client.workers_list()}


def test_two_processes_drain_a_queue_together(shared_db_url: str, tmp_path) -> None:
    client = _client(shared_db_url)
    ids = [r.id for r in client.store.runs_add(
        [NewRun("sleepy", kwargs={"seconds": 0.05}) for _ in range(120)])]
    parent = spawn(shared_db_url, "worker", "--processes", "2", "--name", "pw", "-c", "4",
                   "--prefetch", "0", log=tmp_path / "workers.log")
    try:
        runs = eventually(lambda: (rs := [client.runs.get(i) for i in ids]) and all(
            r.state is RunState.SUCCEEDED for r in rs) and rs, timeout=40)
        assert {r.worker_id for r in runs} == {"pw-1", "pw-2"}  # both took a share
        workers = _workers(client)
        assert workers["pw-1"][0] != workers["pw-2"][0] != parent.pid  # two processes
    finally:
        assert stop(parent) == 0


def test_sigterm_to_the_parent_drains_both(shared_db_url: str, tmp_path) -> None:
    client = _client(shared_db_url)
    ids = [r.id for r in client.store.runs_add(
        [NewRun("sleepy", kwargs={"seconds": 1.5}) for _ in range(4)])]
    parent = spawn(shared_db_url, "worker", "--processes", "2", "--name", "pd", "-c", "2",
                   "--prefetch", "0", log=tmp_path / "workers.log")
    running = eventually(lambda: (rs := [client.runs.get(i) for i in ids]) and all(
        r.state is RunState.RUNNING for r in rs) and rs, timeout=30)
    assert {r.worker_id for r in running} == {"pd-1", "pd-2"}
    assert stop(parent, timeout=30) == 0  # SIGTERM: both children drain, then it exits
    assert all(client.runs.get(i).state is RunState.SUCCEEDED for i in ids)  # not cut off
    assert {w: s for w, (_, s) in _workers(client).items()} == {"pd-1": "gone",
                                                                "pd-2": "gone"}


def test_a_killed_child_is_replaced(shared_db_url: str, tmp_path) -> None:
    client = _client(shared_db_url)
    parent = spawn(shared_db_url, "worker", "--processes", "2", "--name", "pk", "-c", "2",
                   log=tmp_path / "workers.log")
    try:
        first = eventually(lambda: (ws := _workers(client)).keys() == {"pk-1", "pk-2"}
                           and ws, timeout=30)
        victim = first["pk-1"][0]
        os.kill(victim, signal.SIGKILL)
        eventually(lambda: (w := _workers(client).get("pk-1")) is not None
                   and w[0] != victim and w[1] == "active", timeout=30)
        assert _workers(client)["pk-2"] == first["pk-2"]  # the other one was left alone
        assert parent.poll() is None
        # The pair works on: what is queued runs.
        run = client.runs.create("noop")
        assert client.runs.wait(run.id, timeout=20).state is RunState.SUCCEEDED
    finally:
        assert stop(parent) == 0
