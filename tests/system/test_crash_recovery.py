"""kill -9 of a server or a worker: nothing is lost, nothing stays running forever."""

from __future__ import annotations

import os
import time

import pytest

from horae import Horae, RunState, interval
from tests.conftest import eventually
from tests.system import apps
from tests.system.procs import kill_hard, spawn, stop

pytestmark = pytest.mark.system

OUTAGE = 4.0


def _client(url: str) -> Horae:
    client = Horae(url)
    for task in apps.app.registry:
        client.registry.add(task)
    return client


def test_server_killed_and_restarted_keeps_schedules_and_applies_catch_up(
    shared_db_url: str, tmp_path
) -> None:
    client = _client(shared_db_url)
    anchor = float(int(client.store.now()) + 1)
    every = interval(seconds=0.5, anchor=anchor)
    client.schedules.add("latest", "noop", every, misfire_grace=0.3, catchup="latest")
    client.schedules.add("none", "noop", every, misfire_grace=0.3, catchup="none")
    client.schedules.add("all", "noop", every, misfire_grace=0.3, catchup="all",
                         catchup_window=3600, overlap="allow")
    before = {s.id: s for s in client.schedules.list()}

    server = spawn(shared_db_url, "server", "--name", "srv", log=tmp_path / "server1.log")
    eventually(lambda: all(
        client.schedules.get(sid).successes >= 2 for sid in ("latest", "none", "all")
    ), timeout=30)
    kill_hard(server)
    # The outage itself is the input of this test: fires come due while nothing runs.
    time.sleep(OUTAGE)
    restart_at = client.store.now()
    server = spawn(shared_db_url, "server", "--name", "srv", log=tmp_path / "server2.log")
    try:
        eventually(lambda: all(
            any(r.fire_time and r.fire_time > restart_at for r in
                client.runs.list(schedule_id=sid, states=["succeeded"]))
            for sid in ("latest", "none", "all")
        ), timeout=30)
    finally:
        assert stop(server) == 0, (tmp_path / "server2.log").read_text()

    after = {s.id: s for s in client.schedules.list()}
    for sid, s in before.items():
        assert (after[sid].task, after[sid].trigger, after[sid].policies) == \
               (s.task, s.trigger, s.policies), "schedules survive the crash intact"

    def catch_up_batch(sid: str) -> list[str]:
        """States of the fires the restarted server decided in its first pass, in order."""
        runs = [r for r in client.runs.list(schedule_id=sid, limit=1000)
                if r.created_at >= restart_at and r.fire_time is not None]
        first = min(r.created_at for r in runs)
        return [r.state.value for r in sorted(runs, key=lambda r: r.fire_time or 0)
                if r.created_at == first]

    expected = int(OUTAGE / 0.5) - 1
    latest, none, all_ = (catch_up_batch(s) for s in ("latest", "none", "all"))
    assert len(latest) >= expected and latest == ["missed"] * (len(latest) - 1) + ["succeeded"]
    assert len(none) >= expected and set(none[:-1]) == {"missed"}, none
    assert none[-1] in ("missed", "succeeded"), "only a fire inside the grace may still run"
    assert len(all_) >= expected and set(all_) == {"succeeded"}, all_
    # Every decision is a row: the fires are contiguous, none silently dropped.
    for sid in ("latest", "none", "all"):
        times = sorted(r.fire_time for r in client.runs.list(schedule_id=sid, limit=1000)
                       if r.fire_time is not None)
        assert times == [times[0] + 0.5 * k for k in range(len(times))], sid
    client.stop()


@pytest.mark.parametrize(("task", "final"), [("sleepy", "lost"), ("sleepy.retry", "succeeded")])
def test_worker_killed_mid_run_is_rescued(shared_db_url: str, tmp_path, task: str,
                                          final: str) -> None:
    client = _client(shared_db_url)
    client.start(worker=False)  # a scheduler, which sweeps expired leases
    worker = spawn(shared_db_url, "worker", "--lease", "1.5", "-c", "2",
                   log=tmp_path / "worker1.log")
    marker = str(tmp_path / "marker")
    run = client.runs.create(task, kwargs={"seconds": 120} | (
        {"marker": marker} if task == "sleepy.retry" else {}))
    eventually(lambda: client.runs.get(run.id).state is RunState.RUNNING, timeout=20)
    if task == "sleepy.retry":  # its code is running (not only claimed): it made its marker
        eventually(lambda: os.path.exists(marker), timeout=20)
    kill_hard(worker)
    killed = time.monotonic()
    left = eventually(lambda: (r := client.runs.get(run.id)).state is not RunState.RUNNING and r,
                      timeout=20)
    assert time.monotonic() - killed < 1.5 + 1.0 + 2.0, "lease + sweep + slack"
    assert "lease expired" in (left.error or "")
    replacement = spawn(shared_db_url, "worker", "--lease", "1.5",
                        log=tmp_path / "worker2.log") if final == "succeeded" else None
    try:
        done = client.runs.wait(run.id, timeout=30)
    finally:
        if replacement is not None:
            stop(replacement)
    assert done.state.value == final
    assert done.attempt == (2 if final == "succeeded" else 1)
    client.stop()


def test_worker_restarted_with_the_same_name_releases_its_runs_at_once(
    shared_db_url: str, tmp_path
) -> None:
    client = _client(shared_db_url)
    worker = spawn(shared_db_url, "worker", "--name", "w1", "--lease", "600",
                   log=tmp_path / "w1.log")
    run = client.runs.create("sleepy.retry", kwargs={"seconds": 120,
                                                     "marker": str(tmp_path / "m")})
    # Its code is running (not only claimed): the first attempt made its marker.
    eventually(lambda: (tmp_path / "m").exists(), timeout=20)
    kill_hard(worker)
    worker = spawn(shared_db_url, "worker", "--name", "w1", "--lease", "600",
                   log=tmp_path / "w1b.log")
    try:
        done = client.runs.wait(run.id, timeout=30)  # far less than the 600 s lease
    finally:
        stop(worker)
    assert done.state is RunState.SUCCEEDED and done.attempt == 2
    client.stop()
