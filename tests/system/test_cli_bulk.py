"""``horae runs cancel-many|retry-many`` and ``horae schedules pause-many|resume-many``:
counted first, asked on a terminal, refused without one unless ``--yes``, audited."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae import Horae, RunState, interval
from horae.cli import cli
from horae.demo import make_app
from horae.models import WorkerInfo
from horae.store.api_store import ApiStore


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)
    app.store.worker_register(WorkerInfo("catalogue", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    for _ in range(3):
        app.runs.create("demo.hello", kwargs={"name": "x"})
    app.schedules.add("nightly", "demo.hello", interval(3600), kwargs={"name": "n"},
                      tags=["backup"])
    app.stop()
    yield url


def horae(url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", url, *args], input=input)


def runs_in(url: str) -> list[RunState]:
    app = Horae(url)
    try:
        return [r.state for r in app.runs.list(task="demo.hello", limit=100)]
    finally:
        app.stop()


def test_dry_run_counts_and_changes_nothing(url: str) -> None:
    done = horae(url, "runs", "cancel-many", "--task", "demo.hello", "--dry-run", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["by_state"] == {"queued": 3}
    assert runs_in(url) == [RunState.QUEUED] * 3


def test_without_a_terminal_the_change_needs_yes(url: str) -> None:
    refused = horae(url, "runs", "cancel-many", "--task", "demo.hello")
    assert refused.exit_code == 2
    assert "--yes" in refused.output and "3" in refused.output
    assert "Traceback" not in refused.output
    assert runs_in(url) == [RunState.QUEUED] * 3
    done = horae(url, "runs", "cancel-many", "--task", "demo.hello", "--yes")
    assert done.exit_code == 0, done.output
    assert "cancelled 3" in done.output
    assert runs_in(url) == [RunState.CANCELLED] * 3
    app = Horae(url)
    [audit] = [a for a in ApiStore(app.store).audit_list() if a.action == "runs.cancel"]
    app.stop()
    assert audit.actor.startswith("cli:") and audit.target_id.startswith("task=demo.hello")


def test_a_bad_state_is_named_and_exits_2(url: str) -> None:
    bad = horae(url, "runs", "cancel-many", "--queue", "default", "--state", "succeeded")
    assert bad.exit_code == 2
    assert "states" in bad.output and "succeeded" in bad.output
    nothing = horae(url, "runs", "cancel-many", "--yes")
    assert nothing.exit_code == 2 and "filter" in nothing.output
    assert runs_in(url) == [RunState.QUEUED] * 3


def test_pause_and_resume_by_tag(url: str) -> None:
    paused = horae(url, "schedules", "pause-many", "--tag", "backup", "--yes")
    assert paused.exit_code == 0, paused.output
    assert "paused 1 schedules tagged 'backup'" in paused.output
    app = Horae(url)
    assert app.schedules.get("nightly").paused
    app.stop()
    again = horae(url, "schedules", "pause-many", "--tag", "backup", "--yes")
    assert "would pause 0" in again.output
    resumed = horae(url, "schedules", "resume-many", "--tag", "backup", "--yes")
    assert resumed.exit_code == 0, resumed.output
    app = Horae(url)
    assert not app.schedules.get("nightly").paused
    app.stop()
