"""The README's Quick start, tried as a new user would: a fresh copy, a fresh venv."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import eventually

pytestmark = pytest.mark.system
ROOT = Path(__file__).resolve().parents[2]


def quickstart_command(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- quickstart:{name} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no quickstart:{name} block"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command() -> None:
    assert quickstart_command("test") in (ROOT / ".ci" / "run").read_text()


def test_quick_start_runs_the_demo_in_a_fresh_venv(tmp_path: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    copy = tmp_path / "horae"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HORAE_", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(["bash", "-c", quickstart_command("run")], cwd=copy, env=env,
                            stdout=open(tmp_path / "out.log", "wb"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, start_new_session=True)
    db = copy / "horae.db"

    def demo_succeeded() -> bool:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / "out.log").read_text())
        if not db.exists():
            return False
        try:
            with sqlite3.connect(db, timeout=5) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM horae_runs WHERE schedule_id = 'demo-hello'"
                    " AND state = 'succeeded'").fetchone()
        except sqlite3.OperationalError:
            return False  # tables not created yet
        return bool(row and row[0] >= 1)

    try:
        eventually(demo_succeeded, timeout=300, interval=0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, (tmp_path / "out.log").read_text()
    assert "demo" in (tmp_path / "out.log").read_text().lower()
