"""Hooks in the module ``horae … -A`` loads run in those processes: with a scheduler and
a worker process both loading them, each event reaches the hook once in total, and when
the process delivering them is killed the other one goes on from where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from horae import Horae
from tests.conftest import eventually
from tests.system.procs import kill_hard, spawn, stop

pytestmark = pytest.mark.system
APP = "tests.system.hook_apps:app"


def test_hooks_of_the_app_module_run_once_across_horae_processes(
        shared_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "hooks.out"
    out.touch()
    monkeypatch.setenv("HORAE_HOOKS_OUT", str(out))
    client = Horae(shared_db_url)
    procs = {"scheduler": spawn(shared_db_url, "scheduler", app=APP,
                                log=tmp_path / "scheduler.log"),
             "worker": spawn(shared_db_url, "worker", app=APP, log=tmp_path / "worker.log")}
    try:
        eventually(lambda: client.workers_list(), timeout=30)
        eventually(lambda: (client.store.consumer_get("hooks") or {}).get("lease_owner"),
                   timeout=30)

        def lines() -> list[list[int]]:
            return [[int(x) for x in line.split()] for line in out.read_text().splitlines()]

        first = [client.runs.create("noop").id for _ in range(5)]
        eventually(lambda: {run for _, run, _ in lines()} >= set(first), timeout=30)
        [holder_pid] = {pid for _, _, pid in lines()}
        holder = next(name for name, p in procs.items() if p.pid == holder_pid)
        kill_hard(procs.pop(holder))  # the other process takes over after the lease
        if holder == "worker":  # runs need a worker: start another (it has the hooks too)
            procs["worker"] = spawn(shared_db_url, "worker", app=APP,
                                    log=tmp_path / "worker2.log")
        second = [client.runs.create("noop").id for _ in range(5)]
        eventually(lambda: {run for _, run, _ in lines()} >= set(first + second), timeout=60)
        got = lines()
        assert {run for _, run, _ in got} == set(first + second)
        for pid in {pid for _, _, pid in got}:  # each process: in order, each once
            mine = [event for event, _, pid_ in got if pid_ == pid]
            assert mine == sorted(set(mine))
        # At least once: what the killed process handled after its last cursor write
        # comes again from its successor; nothing else repeats.
        seen: dict[int, int] = {}
        for event, _, pid in got:
            if event in seen:
                assert seen[event] == holder_pid and pid != holder_pid
            seen[event] = pid
    finally:
        for proc in procs.values():
            stop(proc)
