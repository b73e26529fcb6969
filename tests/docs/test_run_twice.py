"""The README's "In Python" example runs twice on the same database: it declares its
schedules in code (ensure, @app.periodic), which a second start leaves alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from horae import Horae
from tests.docs.blocks import page_blocks, python_programs

pytestmark = pytest.mark.system


def test_the_readme_python_example_runs_twice(tmp_path: Path) -> None:
    [program] = [text for _, text in python_programs(page_blocks("README.md"))
                 if 'Horae("sqlite:///horae.db")' in text]
    path = tmp_path / "example.py"
    path.write_text(program)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HORAE_")}
    for attempt in ("first", "second"):
        done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{attempt} run failed:\n{done.stdout}{done.stderr}"
    app = Horae(f"sqlite:///{tmp_path}/horae.db")
    stored = {s.id: s for s in app.schedules.list()}
    assert {"nightly-eu", "inventory", "poll-eu", "poll-us"} <= set(stored)
    assert stored["inventory"].declared and stored["inventory"].version == 1
    assert stored["nightly-eu"].declared and stored["nightly-eu"].paused
    app.stop()
