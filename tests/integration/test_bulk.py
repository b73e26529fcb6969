"""Bulk operations on every backend: count first, then cancel / retry the runs a filter
matches, pause / resume schedules by tag (issue #16, item 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae, RunState, interval
from horae.errors import InvalidInput
from horae.store import NewRun


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = Horae(database_url)
    for name in ("scan", "report"):
        app.task(name, queue="scans" if name == "scan" else "default")(lambda: None)
    yield app
    app.store.close()


def states(app: Horae, ids: list[int]) -> list[RunState]:
    return [app.runs.get(i).state for i in ids]


def claim(app: Horae, queue: str, n: int) -> list[int]:
    return [r.id for r in app.store.runs_claim("w", [queue], n, 30.0)]


def test_cancel_counts_first_then_cancels_only_what_the_filter_names(app: Horae) -> None:
    scans = [app.runs.create("scan").id for _ in range(5)]
    reports = [app.runs.create("report").id for _ in range(3)]
    running = claim(app, "scans", 2)
    assert running == scans[:2]

    preview = app.runs.cancel_many(queue="scans", dry_run=True)
    assert (preview.total, preview.matched, preview.changed) == (3, {"queued": 3}, 0)
    assert states(app, scans) == [RunState.RUNNING] * 2 + [RunState.QUEUED] * 3  # untouched

    done = app.runs.cancel_many(queue="scans")
    assert done.changed == 3 and done.ids == scans[2:]
    assert states(app, scans[2:]) == [RunState.CANCELLED] * 3
    assert states(app, running) == [RunState.RUNNING] * 2
    assert states(app, reports) == [RunState.QUEUED] * 3
    assert app.runs.get(scans[2]).error == "cancelled before it started (bulk cancel)"

    # Running ones only when asked: they are asked to stop, once.
    asked = app.runs.cancel_many(task="scan", states=["running"])
    assert asked.changed == 2
    assert all(app.store.run_get(i).cancel_requested for i in running)
    assert app.runs.cancel_many(task="scan", states="running", dry_run=True).total == 0
    assert app.runs.cancel_many(task="scan", states=["running"]).changed == 0


def test_cancel_by_schedule_and_tag_counts_on_the_schedule(app: Horae) -> None:
    app.schedules.add("nightly", "report", interval(3600), tags=["ops"])
    app.schedules.add("other", "report", interval(3600))
    app.schedules.trigger_now("nightly")
    app.schedules.trigger_now("other")
    outcome = app.runs.cancel_many(tag="ops")
    assert outcome.changed == 1
    [run] = app.runs.list(schedule_id="nightly")
    assert run.state is RunState.CANCELLED
    assert [r.state for r in app.runs.list(schedule_id="other")] == [RunState.QUEUED]
    assert app.runs.cancel_many(schedule="other").changed == 1


def test_cancelling_a_fanout_parent_cancels_its_children(app: Horae) -> None:
    [parent] = app.store.runs_add([NewRun("report", fanout="shard", shard_total=3)])
    assert app.store.runs_expand() == 3
    kids = [r.id for r in app.runs.list(task="report") if r.parent_id == parent.id]
    assert len(kids) == 3
    outcome = app.runs.cancel_many(task="report", states=["running"])
    assert outcome.ids == [parent.id]
    assert states(app, kids) == [RunState.CANCELLED] * 3
    assert app.runs.get(parent.id).state is RunState.CANCELLED


def test_retry_many_retries_each_failed_run_once(app: Horae) -> None:
    ids = [app.runs.create("scan").id for _ in range(4)]
    claimed = app.store.runs_claim("w", ["scans"], 4, 30.0)
    for run, state in zip(claimed, [RunState.FAILED, RunState.TIMED_OUT,
                                     RunState.SUCCEEDED, RunState.FAILED], strict=True):
        assert app.store.run_finish(run, "w", state, error=None if state is
                                    RunState.SUCCEEDED else "boom")
    assert app.runs.retry_many(task="scan", dry_run=True).matched == {
        "failed": 2, "timed_out": 1}
    first = app.runs.retry_many(task="scan")
    assert first.changed == 3
    new = [app.runs.get(i) for i in first.ids]
    assert sorted(r.retry_of for r in new if r.retry_of) == [ids[0], ids[1], ids[3]]
    assert all(r.state is RunState.QUEUED and r.origin == "retry" for r in new)
    # The same operation again finds nothing left to retry.
    assert app.runs.retry_many(task="scan").changed == 0
    assert app.runs.retry_many(task="scan", states=["failed"], dry_run=True).total == 0


def test_pause_and_resume_by_tag(app: Horae) -> None:
    for sid, tags in (("a", ["backup"]), ("b", ["backup", "db"]), ("c", ["reports"])):
        app.schedules.add(sid, "report", interval(60), tags=tags)
    assert app.schedules.pause_many(tag="backup", dry_run=True).total == 2
    assert not app.schedules.get("a").paused  # a dry run changes nothing
    paused = app.schedules.pause_many(tag="backup")
    assert (paused.changed, paused.ids) == (2, ["a", "b"])
    assert [app.schedules.get(s).paused for s in "abc"] == [True, True, False]
    assert app.schedules.get("a").version == 2  # written as pause() writes it
    assert app.schedules.pause_many(tag="backup").changed == 0  # already paused
    resumed = app.schedules.resume_many(tag="db")
    assert resumed.ids == ["b"]
    assert [app.schedules.get(s).paused for s in "abc"] == [True, False, False]


@pytest.mark.parametrize("filters, field", [
    ({}, "filter"),
    ({"queue": ""}, "queue"),
    ({"task": "scan", "states": ["succeeded"]}, "states"),
    ({"task": "scan", "states": []}, "states"),
])
def test_a_bad_filter_names_its_field_and_changes_nothing(app: Horae, filters: dict,
                                                          field: str) -> None:
    run = app.runs.create("scan")
    with pytest.raises(InvalidInput) as bad:
        app.runs.cancel_many(**filters)
    assert bad.value.field == field
    assert app.runs.get(run.id).state is RunState.QUEUED


def test_more_than_the_limit_is_refused_whole(app: Horae) -> None:
    from horae.bulk import BulkRuns

    ids = [app.runs.create("scan").id for _ in range(4)]
    with pytest.raises(InvalidInput) as bad:
        BulkRuns(app).cancel(queue="scans", limit=3)
    assert bad.value.field == "filter" and "4 match" in bad.value.reason
    assert states(app, ids) == [RunState.QUEUED] * 4


def test_a_bulk_cancelled_workflow_step_moves_its_workflow_on(app: Horae) -> None:
    app.workflows.add("wf", {"steps": [{"id": "a", "task": "scan"},
                                       {"id": "b", "task": "report", "after": ["a"],
                                        "trigger_rule": "all_done"}]})
    run = app.workflows.run("wf")
    [step] = app.runs.list(parent_id=run.id)
    assert (step.step, step.state) == ("a", RunState.QUEUED)
    assert app.runs.cancel_many(task="scan").ids == [step.id]
    # As a single cancel does: the step's end decides its successor (all_done: it runs).
    later = {r.step: r.state for r in app.runs.list(parent_id=run.id)}
    assert later == {"a": RunState.CANCELLED, "b": RunState.QUEUED}


def test_a_bulk_cancelled_workflow_run_cancels_its_steps(app: Horae) -> None:
    app.workflows.add("wf2", {"steps": [{"id": "a", "task": "scan"}]})
    run = app.workflows.run("wf2")
    [step] = app.runs.list(parent_id=run.id)
    assert app.runs.get(run.id).state is RunState.RUNNING
    app.runs.cancel_many(task=app.runs.get(run.id).task, states=["running"])
    assert app.runs.get(step.id).state is RunState.CANCELLED
    assert app.runs.get(run.id).state is RunState.CANCELLED
