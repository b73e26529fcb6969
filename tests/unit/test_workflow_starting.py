"""Each step's run fields, resolved when a workflow run starts (horae.workflows.starting)."""

from __future__ import annotations

import pytest

from horae.errors import InvalidInput
from horae.models import TaskInfo
from horae.workflows.starting import run_specs
from horae.workflows.validate import parse_workflow

SCHEMA = {"type": "object", "properties": {"segment": {"type": "string"},
                                            "item": {"type": "string"}},
          "additionalProperties": False}
TASKS = {"find": TaskInfo("find", SCHEMA, queue="scans", retries=2, timeout=30.0),
         "probe": TaskInfo("probe", SCHEMA), "alert": TaskInfo("alert", {}, queue="ops")}


def test_step_overrides_else_the_tasks_values() -> None:
    wf = parse_workflow("w", {"steps": [
        {"id": "find", "task": "find", "kwargs": {"segment": "a"}},
        {"id": "probe", "task": "probe", "map": "find", "queue": "fast", "retries": 1,
         "timeout": 5, "priority": 7}],
        "on_failure": {"task": "alert", "kwargs": {"x": 1}}})
    specs = run_specs(wf, {"segment": "b"}, TASKS.__getitem__)
    assert specs["find"] == {
        "task": "find", "args": [], "kwargs": {"segment": "b"}, "queue": "scans",
        "priority": 0, "max_attempts": 3, "retry_backoff": 1.0, "retry_backoff_max": 3600.0,
        "timeout": 30.0}
    probe = specs["probe"]
    assert (probe["queue"], probe["max_attempts"], probe["timeout"], probe["priority"],
            probe["kwargs"]) == ("fast", 2, 5.0, 7, {})  # kwargs go to the roots only
    assert (specs["on_failure"]["queue"], specs["on_failure"]["kwargs"]) == ("ops", {"x": 1})


def test_kwargs_a_root_does_not_take_are_refused() -> None:
    wf = parse_workflow("w", {"steps": [{"id": "find", "task": "find"}]})
    with pytest.raises(InvalidInput) as bad:
        run_specs(wf, {"segment": 3}, TASKS.__getitem__)
    assert bad.value.field == "kwargs.segment"
    assert bad.value.reason.startswith("(step 'find') ")
