"""Four processes starting at once with the same schedules declared in code: exactly one
of each, written once (created, or updated once when the code changed), no error in any of
them, and every fire one run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from horae import Horae
from tests.conftest import eventually
from tests.system.declared_starts import SPARE, build
from tests.system.procs import ROOT

IDS = sorted(["tick", *(f"daily-{i}" for i in range(SPARE))])


def start_four(url: str, go: Path, variant: str) -> tuple[list[int], list[tuple[int, str]]]:
    """Four processes declaring ``variant`` at the same instant; the highest schedule
    version each saw once started, and each one's exit code and stderr once stopped (after
    a few more fires of tick)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.system.declared_starts", url, str(go), variant],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for _ in range(4)]
    versions = []
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().split()
            assert line[:1] == ["started"], (line, p.stderr.read() if p.stderr else "")
            versions.append(int(line[1]))
        app = Horae(url)
        fires = app.schedules.get("tick").fires
        # Four schedulers fire tick every half second: wait for a few fires.
        eventually(lambda: app.schedules.get("tick").fires >= fires + 4)
        app.stop()
    finally:
        outs = []
        for p in procs:
            _out, err = p.communicate(input="", timeout=30)
            outs.append((p.returncode, err))
    go.unlink()
    return versions, outs


def assert_clean(outs: list[tuple[int, str]]) -> None:
    assert [code for code, _ in outs] == [0, 0, 0, 0], outs
    assert not any("Traceback" in err or "error" in err.lower() for _, err in outs), outs


def test_four_processes_declaring_at_once_make_one_schedule(shared_db_url: str,
                                                            tmp_path: Path) -> None:
    Horae(shared_db_url).store.migrate()  # the race under test is the declaration's
    versions, outs = start_four(shared_db_url, tmp_path / "go", "a")
    assert_clean(outs)
    assert versions == [1, 1, 1, 1], "created once, never rewritten"
    app = Horae(shared_db_url)
    stored = app.schedules.list(limit=1000)
    assert sorted(s.id for s in stored) == IDS
    assert all(s.declared and s.version == 1 for s in stored)
    runs = app.runs.list(schedule_id="tick", limit=1000)
    fired = [r.fire_time for r in runs]
    assert len(fired) == len(set(fired)) == app.schedules.get("tick").fires
    app.stop()


def test_four_processes_with_changed_code_update_each_schedule_once(
        shared_db_url: str, tmp_path: Path) -> None:
    first = build(shared_db_url, "a")
    first.schedules.sync()
    first.schedules.pause("daily-7")  # an operator's pause
    first.stop()
    versions, outs = start_four(shared_db_url, tmp_path / "go", "b")
    assert_clean(outs)
    app = Horae(shared_db_url)
    stored = {s.id: s for s in app.schedules.list(limit=1000)}
    assert sorted(stored) == IDS
    daily = [s for sid, s in stored.items() if sid.startswith("daily-")]
    assert all(s.kwargs["variant"] == "b" for s in daily)
    # Each changed schedule written once (daily-7 twice: the pause, then the change).
    assert {s.id: s.version for s in daily} == {
        s.id: 3 if s.id == "daily-7" else 2 for s in daily}
    assert stored["daily-7"].paused
    assert stored["tick"].version == 1, "tick's declaration did not change"
    assert versions == [3, 3, 3, 3]
    app.stop()
