"""Four processes starting at once with the same schedules declared in code: exactly one
of each, written once, no error in any of them, and every fire one run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from horae import Horae
from tests.conftest import eventually
from tests.system.declared_starts import SPARE
from tests.system.procs import ROOT


def test_four_processes_declaring_at_once_make_one_schedule(shared_db_url: str,
                                                            tmp_path: Path) -> None:
    Horae(shared_db_url).store.migrate()  # the race under test is the declaration's
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.system.declared_starts", shared_db_url, str(go)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        versions = []
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().split()
            assert line[:1] == ["started"], (line, p.stderr.read() if p.stderr else "")
            versions.append(int(line[1]))
        assert versions == [1, 1, 1, 1], "created once, never rewritten"

        app = Horae(shared_db_url)
        # Four schedulers fire it every half second: wait for a few fires.
        eventually(lambda: app.schedules.get("tick").fires >= 4)
        stored = app.schedules.list(limit=1000)
        assert sorted(s.id for s in stored) == sorted(
            ["tick", *(f"daily-{i}" for i in range(SPARE))])
        assert all(s.declared and s.version == 1 for s in stored)
    finally:
        outs = []
        for p in procs:
            _out, err = p.communicate(input="", timeout=30)
            outs.append((p.returncode, err))
    assert [code for code, _ in outs] == [0, 0, 0, 0], outs
    assert not any("Traceback" in err or "error" in err.lower() for _, err in outs), outs
    runs = app.runs.list(schedule_id="tick", limit=1000)
    fired = [r.fire_time for r in runs]
    assert len(fired) == len(set(fired)) == app.schedules.get("tick").fires
    app.stop()
