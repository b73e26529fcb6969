"""``horae schedules apply FILE``: JSON lines or YAML, upserts by default, --atomic,
--dry-run, a summary, and the line and field of every bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from horae.demo import make_app
from horae.models import WorkerInfo
from tests.system.test_cli import Horae_


@pytest.fixture
def horae_cli(tmp_path: Path) -> Horae_:
    """``horae --db`` on a file whose catalogue has the demo tasks, as a worker left it."""
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("catalogue", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    app.stop()
    return Horae_(url)


def hello(sid: str, **fields: Any) -> dict[str, Any]:
    return {"id": sid, "task": "demo.hello",
            "trigger": {"kind": "interval", "seconds": 30}} | fields


def jsonl(*items: Any) -> str:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


def test_apply_upserts_schedules_and_applying_again_changes_nothing(
        horae_cli: Horae_, tmp_path: Path) -> None:
    f = tmp_path / "schedules.jsonl"
    f.write_text(jsonl(hello("a", kwargs={"name": "x"}), "# a comment", "",
                       hello("b", policies={"retries": 2}), hello("c", retries=1)))
    result = horae_cli.ok("schedules", "apply", str(f))
    assert "created 3, updated 0, unchanged 0, removed 0, failed 0" in result.stdout
    b = horae_cli.json("schedules", "show", "b")
    assert (b["policies"]["retries"], b["kwargs"]) == (2, {})
    again = horae_cli.ok("schedules", "apply", str(f))
    assert "created 0, updated 0, unchanged 3" in again.stdout
    assert horae_cli.json("schedules", "show", "b")["version"] == 1

    f.write_text(jsonl({"op": "remove", "id": "a"}, {"op": "update", "id": "b", "paused": True},
                       hello("c", retries=1, description="now described")))
    result = horae_cli.ok("schedules", "apply", str(f))
    assert "created 0, updated 2, unchanged 0, removed 1, failed 0" in result.stdout
    assert horae_cli.schedule_ids() == ["b", "c"]
    assert horae_cli.json("schedules", "show", "b")["paused"] is True


def test_bad_lines_are_named_by_line_and_field(horae_cli: Horae_, tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text(jsonl(hello("ok"), hello("bad", trigger={"kind": "cron", "expr": "99 * * * *"}),
                       {"op": "remove", "id": "ghost"}))
    result = horae_cli("schedules", "apply", str(f))
    assert result.exit_code == 2, result.output
    assert "line 2: trigger.expr:" in result.stderr
    assert "line 3: id: does not exist" in result.stderr
    assert "created 1, updated 0, unchanged 0, removed 0, failed 2" in result.stdout
    assert horae_cli.schedule_ids() == ["ok"]

    f.write_text(jsonl(hello("x"), hello("y", kwargs={"nom": 1}), hello("z", retries=-2)))
    result = horae_cli("schedules", "apply", "--atomic", str(f))
    assert result.exit_code == 2, result.output
    assert "line 2: kwargs" in result.stderr and "line 3: retries" in result.stderr
    assert "nothing was changed" in result.stderr
    assert horae_cli.schedule_ids() == ["ok"]

    f.write_text(jsonl(hello("x")) + "{not json\n")
    result = horae_cli("schedules", "apply", str(f))
    assert result.exit_code == 2 and "line 2: not valid JSON" in result.stderr
    assert horae_cli.schedule_ids() == ["ok"]

    f.write_text(jsonl(hello("ok", task="demo.scan")) .replace('"demo.scan"', '"demo.nope"'))
    result = horae_cli("schedules", "apply", "--atomic", str(f))
    assert result.exit_code == 2 and "line 1: task: unknown task" in result.stderr


def test_an_atomic_conflict_names_the_line_and_exits_1(horae_cli: Horae_, tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text(jsonl({"op": "add", **hello("dup")}))
    horae_cli.ok("schedules", "apply", str(f))
    f.write_text(jsonl({"op": "add", **hello("new")}, {"op": "add", **hello("dup")}))
    result = horae_cli("schedules", "apply", "--atomic", str(f))
    assert result.exit_code == 1, result.output
    assert "line 2" in result.stderr and "already exists" in result.stderr
    assert horae_cli.schedule_ids() == ["dup"]


def test_dry_run_prints_what_would_change_from_stdin(horae_cli: Horae_) -> None:
    horae_cli.ok("schedules", "add", "keep", "--task", "demo.hello", "--every", "30s")
    result = horae_cli("schedules", "apply", "--dry-run", "-",
                   input=jsonl(hello("new"), {"op": "remove", "id": "keep"}))
    assert result.exit_code == 0, result.output
    assert "line 1: would create schedule 'new'" in result.stdout
    assert "line 2: would remove schedule 'keep'" in result.stdout
    assert "dry run, nothing written" in result.stdout
    assert horae_cli.schedule_ids() == ["keep"]


def test_yaml_files_name_their_lines_too(horae_cli: Horae_, tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    f = tmp_path / "s.yaml"
    f.write_text("- id: y1\n  task: demo.hello\n  trigger: {kind: interval, seconds: 60}\n"
                 "- id: y2\n  task: demo.hello\n  trigger: {kind: cron, expr: '0 3 * * *'}\n"
                 "  policies: {retries: 3}\n"
                 "- id: y3\n  task: demo.hello\n  trigger: {kind: cron, expr: 'nope'}\n")
    result = horae_cli("schedules", "apply", str(f))
    assert result.exit_code == 2, result.output
    assert "line 8: trigger.expr" in result.stderr
    assert horae_cli.schedule_ids() == ["y1", "y2"]
    assert horae_cli.json("schedules", "show", "y2")["policies"]["retries"] == 3
