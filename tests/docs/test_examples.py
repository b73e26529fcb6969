"""Every code block of README.md and docs/*.md runs, as written (rules: blocks.py, session.py).

An example that stops working fails here, so the docs cannot drift from the code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.blocks import PAGES, ROOT, RUN, SHOWN, all_blocks, page_blocks, python_programs
from tests.docs.session import Session, commands

pytestmark = pytest.mark.system
SHELL = {"bash", "sh", "console"}
MAX_SKIPS = 3


def shared_files() -> dict[str, str]:
    """File blocks (``# myproject/jobs.py``) of every page: the modules examples import."""
    return {b.file_name: b.text for b in all_blocks() if b.file_name}


def test_every_block_says_what_it_is() -> None:
    blocks = all_blocks()
    assert blocks
    untagged = [b.where for b in blocks if b.lang not in RUN | SHOWN]
    assert not untagged, ("blocks without a known language (python, bash, console, text, "
                          f"json): {untagged}")
    for block in blocks:
        if block.lang == "json" and block.skip_reason is None:
            try:
                json.loads(block.text)
            except ValueError as exc:
                msg = f"{block.where}: not JSON ({exc}); a sketch is `text`"
                raise AssertionError(msg) from exc

    skips = [(b.where, b.skip_reason) for b in blocks
             if b.skip_reason and not b.directive.startswith("quickstart:")]
    assert all(reason for _, reason in skips)
    assert len(skips) <= MAX_SKIPS, f"too many examples skipped: {skips}"


def _pages(langs: set[str]) -> list[str]:
    return [p for p in PAGES if any(b.lang in langs and b.skip_reason is None
                                    for b in page_blocks(p))]


@pytest.mark.parametrize("page", _pages({"python"}))
def test_python_examples_run(page: str, tmp_path: Path) -> None:
    session = Session(tmp_path, shared_files())
    try:
        for group, program in python_programs(page_blocks(page)):
            where = group[0].where
            if "scheduler.internal:8765" in program and session.address is None:
                session.start_server()
            program = session.substitute(program)
            name = group[0].file_name
            path = tmp_path / (name or f"example_{group[0].line}.py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(program)
            env = dict(session.env, **({"HORAE_TOKEN": session.token} if session.token else {}))
            done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{where} failed:\n{program}\n{done.stdout}{done.stderr}"
    finally:
        problems = session.stop()
    assert not problems, problems


@pytest.mark.parametrize("page", _pages(SHELL))
def test_shell_examples_run(page: str, tmp_path: Path) -> None:
    session = Session(tmp_path, shared_files())
    try:
        for block in page_blocks(page):
            if block.lang in SHELL and block.skip_reason is None:
                for cmd in commands(block):
                    session.run(cmd)
    finally:
        problems = session.stop()
    assert not problems, problems


def test_readme_says_how_to_install_for_postgresql() -> None:
    # psycopg is an extra: a PostgreSQL URL without it fails, so the README must say so.
    assert "horae[postgres]" in (ROOT / "README.md").read_text()
