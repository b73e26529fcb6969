"""``horae workflows``: add from a file, list, show, update with a version check, remove;
bad files and bad definitions are one line naming the field, exit 2, nothing written;
every change is audited."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from horae import Horae
from horae.cli import workflows_cmd
from horae.models import WorkerInfo
from horae.store.api_store import ApiStore
from tests.system.test_cli import Horae_
from tests.workflow_support import ISSUE_FORM, alert, discover, probe, report


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/h.db"


@pytest.fixture
def horae(url: str) -> Horae_:
    """The CLI without -A, with the scanner's tasks in the catalogue a worker advertises."""
    app = Horae(url)
    for name, func in (("scan.discover", discover), ("scan.probe", probe),
                       ("scan.report", report), ("ops.alert", alert)):
        app.task(name)(func)
    app.store.worker_register(WorkerInfo("catalogue", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])
    app.stop()
    return Horae_(url)


def write(tmp_path: Path, data: Any, name: str = "wf.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def audit(url: str) -> list[tuple[str, str | None, Any, Any]]:
    app = Horae(url)
    try:
        records = ApiStore(app.store).audit_list(target_kind="workflow")
        return [(r.action, r.target_id, r.before, r.after) for r in reversed(records)]
    finally:
        app.stop()


def test_round_trip_add_list_show_update_remove(horae: Horae_, tmp_path: Path,
                                                url: str) -> None:
    out = horae.ok("workflows", "add", "segment-scan", "--file", write(tmp_path, ISSUE_FORM))
    assert out.stdout.strip() == "added workflow 'segment-scan': 3 steps, version 1"
    listed = horae.json("workflows", "list")
    assert [(w["id"], w["version"]) for w in listed] == [("segment-scan", 1)]
    shown = horae.json("workflows", "show", "segment-scan")
    assert {k: v for k, v in shown.items()
            if k not in ("id", "version", "created_at", "updated_at", "description")} \
        == ISSUE_FORM
    people = horae.ok("workflows", "show", "segment-scan").stdout
    for words in ("segment-scan", "on failure", "ops.alert", "discover", "all_done"):
        assert words in people

    # show --json, edited, given back: applied only at the version it was read at
    shown["description"] = "segments, nightly"
    edited = write(tmp_path, shown, "edited.json")
    changed = horae.json("workflows", "update", "segment-scan", "--file", edited)
    assert (changed["version"], changed["description"]) == (2, "segments, nightly")
    stale = horae("workflows", "update", "segment-scan", "--file", edited)
    assert stale.exit_code == 1
    assert "changed meanwhile (version 2, expected 1)" in stale.stderr
    # a file without a version applies to the current one
    horae.ok("workflows", "update", "segment-scan", "--file", write(tmp_path, ISSUE_FORM))
    assert horae.json("workflows", "show", "segment-scan")["version"] == 3

    removed = horae.ok("workflows", "remove", "segment-scan")
    assert removed.stdout.strip() == "removed workflow 'segment-scan'"
    assert horae.json("workflows", "list") == []
    gone = horae("workflows", "show", "segment-scan")
    assert gone.exit_code == 1 and "workflow 'segment-scan' not found" in gone.stderr
    old = horae.json("workflows", "show", "segment-scan", "--version", "2")
    assert old["description"] == "segments, nightly"

    actions = audit(url)
    assert [(a, t) for a, t, _, _ in actions] == [
        ("workflow.create", "segment-scan"), ("workflow.update", "segment-scan"),
        ("workflow.update", "segment-scan"), ("workflow.delete", "segment-scan")]
    create, first_update, _, delete = actions
    assert create[2] is None and create[3]["version"] == 1
    assert first_update[2]["version"] == 1 and first_update[3]["version"] == 2
    assert delete[2]["version"] == 3 and delete[3] is None


@pytest.mark.parametrize(("content", "message"), [
    (None, "error: file: cannot read '{path}': No such file or directory"),
    ('{"steps": [', "error: file: '{path}' is not valid JSON: Expecting value at line 1 "
                    "column 12"),
    ("[1, 2]", "error: file: '{path}' must hold a JSON object with \"steps\""),
    ({"steps": []}, "error: steps: a workflow needs at least one step"),
    (dict(ISSUE_FORM, steps=[*ISSUE_FORM["steps"][:2],
                             dict(ISSUE_FORM["steps"][2], after=["prob"])]),
     "error: steps[2].after: (step 'report') unknown step 'prob'; steps: discover, probe, "
     "report"),
    (dict(ISSUE_FORM, steps=[dict(ISSUE_FORM["steps"][0], after=["report"]),
                             *ISSUE_FORM["steps"][1:]]),
     "error: steps[0].after: (step 'discover') the steps form a cycle: discover -> report -> "
     "probe -> discover"),
    (dict(ISSUE_FORM, steps=[dict(ISSUE_FORM["steps"][0], task="scan.discovery"),
                             *ISSUE_FORM["steps"][1:]]),
     "error: steps[0].task: (step 'discover') unknown task 'scan.discovery'; known tasks: "
     "ops.alert, scan.discover, scan.probe, scan.report"),
    (dict(ISSUE_FORM, steps=[dict(ISSUE_FORM["steps"][0], kwargs={"segment": 10}),
                             *ISSUE_FORM["steps"][1:]]),
     "error: steps[0].kwargs.segment: (step 'discover') 10 is not of type 'string' "
     "(task 'scan.discover')"),
])
def test_bad_files_are_one_line_naming_the_field_and_write_nothing(
        horae: Horae_, tmp_path: Path, url: str, content: Any, message: str) -> None:
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, content)
    result = horae("workflows", "add", "wf", "--file", path)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == message.format(path=path)
    assert "Traceback" not in result.output
    assert horae.json("workflows", "list") == []
    assert audit(url) == []


def test_update_and_remove_of_an_unknown_workflow(horae: Horae_, tmp_path: Path) -> None:
    for args in (["update", "nope", "--file", write(tmp_path, ISSUE_FORM)], ["remove", "nope"],
                 ["show", "nope"]):
        result = horae("workflows", *args)
        assert result.exit_code == 1
        assert result.stderr.strip() == "error: workflow 'nope' not found"


def test_a_bad_update_changes_nothing(horae: Horae_, tmp_path: Path, url: str) -> None:
    horae.ok("workflows", "add", "wf", "--file", write(tmp_path, ISSUE_FORM))
    bad = horae("workflows", "update", "wf", "--file", write(tmp_path, {"steps": [
        {"id": "a", "task": "scan.report", "after": ["a"]}]}))
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: steps[0].after: (step 'a') the steps form a cycle: a -> a"
    assert horae.json("workflows", "show", "wf")["version"] == 1
    assert [a for a, *_ in audit(url)] == ["workflow.create"]


def test_a_file_from_stdin_and_the_workflow_id_must_agree(horae: Horae_) -> None:
    result = horae("workflows", "add", "wf", "--file", "-",
                   input=json.dumps(dict(ISSUE_FORM, id="other")))
    assert result.exit_code == 2
    assert "error: id: the definition says 'other' but the workflow is 'wf'" in result.stderr
    added = horae("workflows", "add", "wf", "--file", "-", "--json",
                  input=json.dumps(ISSUE_FORM))
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["steps"] == ISSUE_FORM["steps"]


def test_remove_asks_a_person_first_and_rm_is_the_same(horae: Horae_, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        horae.ok("workflows", "add", name, "--file", write(tmp_path, ISSUE_FORM))
    monkeypatch.setattr(workflows_cmd, "stdin_is_tty", lambda: True)
    declined = horae("workflows", "remove", "a", input="n\n")
    assert declined.exit_code == 1 and "Remove workflow 'a'?" in declined.stdout
    assert [w["id"] for w in horae.json("workflows", "list")] == ["a", "b"]
    assert horae("workflows", "rm", "a", input="y\n").exit_code == 0
    horae.ok("workflows", "rm", "b", "--yes")
    assert horae.json("workflows", "list") == []


def test_run_a_workflow_and_list_its_steps(horae: Horae_, tmp_path: Path, url: str) -> None:
    horae.ok("workflows", "add", "segment-scan", "--file", write(tmp_path, ISSUE_FORM))
    started = horae.json("workflows", "run", "segment-scan", "--kwargs",
                         '{"segment": "10.0.9.0/24"}')
    assert (started["state"], started["fanout"], started["workflow_id"]) == (
        "running", "workflow", "segment-scan")
    children = horae.json("runs", "list", "--parent", str(started["id"]))
    assert [(c["step"], c["state"], c["kwargs"]) for c in children] == [
        ("discover", "queued", {"segment": "10.0.9.0/24"})]
    assert horae.json("runs", "list", "--parent", str(started["id"]), "--step", "probe") == []
    shown = horae.json("runs", "show", str(started["id"]))
    assert shown["steps"] == {"discover": "active", "on_failure": "callback",
                              "probe": "waiting", "report": "waiting"}
    people = horae.ok("runs", "show", str(started["id"])).stdout
    assert "0 of 3 steps" in people and "discover active" in people
    assert horae.ok("workflows", "run", "segment-scan").stdout.strip().isdigit()
    assert [a for a, *_ in audit(url)] == ["workflow.create", "workflow.run", "workflow.run"]


def test_run_with_bad_kwargs_is_one_line_and_starts_nothing(horae: Horae_, tmp_path: Path,
                                                            url: str) -> None:
    horae.ok("workflows", "add", "wf", "--file", write(tmp_path, ISSUE_FORM))
    for kwargs, message in (
            ('{"segment": 24}', "error: kwargs.segment: (step 'discover') "),
            ("[1]", "error: kwargs: must be a JSON object"),
            ("{", "error: kwargs: ")):
        result = horae("workflows", "run", "wf", "--kwargs", kwargs)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = horae("workflows", "run", "nope")
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert horae.json("runs", "list") == []


def test_run_and_wait_for_the_outcome(horae: Horae_, tmp_path: Path, url: str) -> None:
    horae.ok("workflows", "add", "segment-scan", "--file", write(tmp_path, ISSUE_FORM))
    worker = Horae(url)
    for name, func in (("scan.discover", discover), ("scan.probe", probe),
                       ("scan.report", report), ("ops.alert", alert)):
        worker.task(name)(func)
    worker.start(scheduler=False, concurrency=2)
    try:
        done = horae.json("workflows", "run", "segment-scan", "--wait", "--timeout", "60")
        people = horae.ok("workflows", "run", "segment-scan", "--wait").stdout
    finally:
        worker.stop(grace=1)
    # discover found no target: the map succeeded at once with [], then the report ran
    assert (done["state"], done["result"], done["progress_message"]) == (
        "succeeded", {"report": None}, "3 of 3 steps")
    assert "succeeded" in people
