"""Workflow runs end to end: a real worker and scheduler run the segment scan of
docs/workflows.md, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae, RunState
from horae.errors import InvalidInput
from tests.integration import workflow_tasks

SCAN = {"steps": [
    {"id": "discover", "task": "scan.discover", "kwargs": {"segment": "10.0.2.0/24"}},
    {"id": "batch", "task": "scan.batch", "after": ["discover"]},
    {"id": "probe", "task": "scan.probe", "map": "discover", "concurrency": 2},
    {"id": "report", "task": "scan.report", "after": ["probe", "batch"],
     "trigger_rule": "all_done"}],
    "on_success": {"task": "ops.alert", "kwargs": {"channel": "done"}},
    "on_failure": {"task": "ops.alert"}}


@pytest.fixture
def app(shared_db_url: str) -> Iterator[Horae]:
    app = Horae(shared_db_url)
    workflow_tasks.register(app)
    app.start(concurrency=4)
    yield app
    app.stop(grace=1)


def steps_of(app: Horae, parent: int) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in sorted(app.runs.list(parent_id=parent, limit=1000), key=lambda r: r.id):
        out.setdefault(r.step, []).append(r)
    return out


def test_the_segment_scan_runs_end_to_end(app: Horae) -> None:
    app.workflows.add("segment-scan", SCAN)
    started = app.workflows.run("segment-scan", {"count": 4})
    done = app.runs.wait(started.id, timeout=60)
    assert done.state is RunState.SUCCEEDED, done.error
    targets = ["10.0.2.1", "10.0.2.2", "10.0.2.3", "10.0.2.4"]
    assert done.result == {"report": {
        "seen": ["batch", "probe"], "probed": targets,
        "batch": {"step": "batch", "targets": 4, "parent": started.id}}}
    assert done.progress_message == "4 of 4 steps"
    steps = steps_of(app, started.id)
    probes = steps["probe"]
    assert [p.kwargs["item"] for p in probes] == targets
    assert [p.result["index"] for p in probes] == [0, 1, 2, 3]
    assert probes[0].inputs == {"discover": targets}
    assert steps["discover"][0].kwargs == {"segment": "10.0.2.0/24", "count": 4}
    callback = app.runs.wait(steps["on_success"][0].id, timeout=30)
    assert callback.result == {"channel": "done", "step": "on_success",
                               "steps": ["batch", "discover", "probe", "report"]}
    assert "on_failure" not in steps
    assert app.workflows.steps(started.id)["report"] == "succeeded"


def test_a_failed_item_fails_the_map_and_the_all_done_report_still_runs(app: Horae) -> None:
    app.workflows.add("flaky-scan", {"steps": [
        {"id": "discover", "task": "scan.discover", "kwargs": {"segment": "10.0.5.0/24"}},
        {"id": "probe", "task": "scan.flaky", "map": "discover"},
        {"id": "report", "task": "scan.report", "after": ["probe"],
         "trigger_rule": "all_done"},
        {"id": "after-probe", "task": "scan.report", "after": ["probe"]}],
        "on_failure": {"task": "ops.alert"}})
    started = app.workflows.run("flaky-scan", {"count": 3})
    done = app.runs.wait(started.id, timeout=60)
    assert done.state is RunState.FAILED
    assert done.error == "step 'after-probe' was skipped: its upstream failed"
    assert done.result["report"]["probed"] == ["10.0.5.1", "10.0.5.2"]
    steps = steps_of(app, started.id)
    assert [p.state for p in steps["probe"]] == [
        RunState.SUCCEEDED, RunState.SUCCEEDED, RunState.FAILED]
    assert steps["after-probe"][0].error == "upstream step 'probe' failed"
    alert = app.runs.wait(steps["on_failure"][0].id, timeout=30)
    assert alert.result["steps"] == ["after-probe", "discover", "probe", "report"]


def test_a_task_makes_children_of_itself(app: Horae) -> None:
    run = app.runs.create("dispatch")
    done = app.runs.wait(run.id, timeout=30)
    assert done.state is RunState.SUCCEEDED
    child = app.runs.wait(done.result, timeout=30)
    assert child.parent_id == run.id and child.state is RunState.SUCCEEDED
    assert [r.id for r in app.runs.list(parent_id=run.id)] == [child.id]
    assert app.runs.get(run.id).state is RunState.SUCCEEDED  # ended by its own outcome
    with pytest.raises(InvalidInput) as bad:
        app.runs.create("dispatch", parent=10**9)
    assert bad.value.field == "parent"


def test_bad_workflow_run_input_writes_nothing(app: Horae) -> None:
    app.workflows.add("segment-scan", SCAN)
    before = len(app.runs.list(limit=1000))
    with pytest.raises(InvalidInput) as bad:
        app.workflows.run("segment-scan", {"count": "many"})
    assert bad.value.field == "kwargs.count"
    assert len(app.runs.list(limit=1000)) == before
