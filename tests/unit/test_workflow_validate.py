"""Workflow definitions: the issue's JSON form is accepted as written; every bad input is
an InvalidInput naming the field (``steps[2].after``) and the reason."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from tests.workflow_support import ISSUE_FORM, add, alert, discover, probe, report

from horae import Horae
from horae.errors import InvalidInput
from horae.models import TaskInfo
from horae.tasks import make_task
from horae.workflows.model import Workflow
from horae.workflows.validate import MAX_STEPS, parse_workflow

TASKS = {t.name: t.info() for t in (
    make_task(discover, name="scan.discover"), make_task(probe, name="scan.probe"),
    make_task(report, name="scan.report"), make_task(alert, name="ops.alert"),
    make_task(add, name="math.add"))}


def lookup(name: str) -> TaskInfo:
    if name not in TASKS:
        raise InvalidInput("task", f"unknown task {name!r}")
    return TASKS[name]


def parse(data: Any) -> Workflow:
    return parse_workflow("wf", data, lookup)


def bad(data: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(data)
    return caught.value


def edited(**changes: Any) -> dict[str, Any]:
    """The issue's form with steps[i] fields changed: ``step1={"map": ...}``."""
    data = copy.deepcopy(ISSUE_FORM)
    for key, value in changes.items():
        if key.startswith("step"):
            data["steps"][int(key[4:])].update(value)
        else:
            data[key] = value
    return data


def test_the_issue_form_is_accepted_as_written_and_round_trips() -> None:
    w = parse(ISSUE_FORM)
    assert [s.id for s in w.steps] == ["discover", "probe", "report"]
    assert w.step("probe").map == "discover" and w.step("probe").after == ["discover"]
    assert w.step("report").trigger_rule == "all_done"
    assert w.step("discover").trigger_rule == "all_success"
    assert w.on_failure is not None and w.on_failure.task == "ops.alert"
    assert w.on_success is None and w.on_finish is None
    assert w.definition() == ISSUE_FORM


def test_a_map_over_a_step_adds_it_to_after_implicitly() -> None:
    data = edited(step1={"after": []})
    del data["steps"][1]["after"]
    w = parse(data)
    assert w.step("probe").after == ["discover"]
    assert w.definition() == ISSUE_FORM


def test_every_step_option_is_kept() -> None:
    w = parse({"steps": [
        {"id": "a", "task": "math.add", "args": [1], "kwargs": {"y": 2}, "queue": "q",
         "retries": 2, "timeout": 30, "priority": 5},
        {"id": "b", "task": "scan.probe", "map": ["10.0.0.1", "10.0.0.2"], "concurrency": 2,
         "after": ["a"], "trigger_rule": "any_failed"}],
        "on_success": {"task": "ops.alert", "kwargs": {"channel": "x"}},
        "on_finish": "scan.report", "description": "all of it"})
    a, b = w.steps
    assert (a.args, a.kwargs, a.queue, a.retries, a.timeout, a.priority) == \
        ([1], {"y": 2}, "q", 2, 30.0, 5)
    assert (b.map, b.concurrency, b.trigger_rule) == (["10.0.0.1", "10.0.0.2"], 2, "any_failed")
    assert w.on_success is not None and w.on_success.kwargs == {"channel": "x"}
    assert w.on_finish is not None and w.on_finish.task == "scan.report"
    assert parse(w.definition()).definition() == w.definition()


@pytest.mark.parametrize(("data", "field", "words"), [
    ({}, "steps", "at least one step"),
    ({"steps": []}, "steps", "at least one step"),
    ({"steps": {"a": 1}}, "steps", "list"),
    ([], "definition", "object"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "extra": 1}, "extra", "not a field"),
    ({"steps": ["a"]}, "steps[0]", "object"),
    ({"steps": [{"task": "scan.report"}]}, "steps[0].id", "required"),
    ({"steps": [{"id": "a b", "task": "scan.report"}]}, "steps[0].id", "letters"),
    ({"steps": [{"id": "a"}]}, "steps[0].task", "required"),
    ({"steps": [{"id": "a", "task": "scan.report", "colour": 1}]}, "steps[0].colour",
     "not a field of a step"),
    ({"steps": [{"id": "a", "task": "scan.report"}, {"id": "a", "task": "scan.report"}]},
     "steps[1].id", "already used by steps[0]"),
    ({"steps": [{"id": "a", "task": "scan.report", "args": {}}]}, "steps[0].args", "list"),
    ({"steps": [{"id": "a", "task": "scan.report", "kwargs": []}]}, "steps[0].kwargs",
     "object"),
    ({"steps": [{"id": "a", "task": "scan.report", "after": "b"}]}, "steps[0].after",
     "list of step ids"),
    ({"steps": [{"id": "a", "task": "scan.report", "trigger_rule": "some"}]},
     "steps[0].trigger_rule", "all_success, all_done, any_failed"),
    ({"steps": [{"id": "a", "task": "scan.report", "retries": -1}]}, "steps[0].retries",
     "at least 0"),
    ({"steps": [{"id": "a", "task": "scan.report", "retries": 1.5}]}, "steps[0].retries",
     "whole number"),
    ({"steps": [{"id": "a", "task": "scan.report", "timeout": 0}]}, "steps[0].timeout", "> 0"),
    ({"steps": [{"id": "a", "task": "scan.report", "priority": "high"}]},
     "steps[0].priority", "whole number"),
    ({"steps": [{"id": "a", "task": "scan.report", "queue": ""}]}, "steps[0].queue", "queue"),
    ({"steps": [{"id": "a", "task": "scan.report", "concurrency": 2}]},
     "steps[0].concurrency", "no map"),
    ({"steps": [{"id": "a", "task": "scan.probe", "map": [], }]}, "steps[0].map", "empty"),
    ({"steps": [{"id": "a", "task": "scan.probe", "map": 3}]}, "steps[0].map", "step id"),
    ({"steps": [{"id": "a", "task": "scan.probe", "map": ["x"], "concurrency": 0}]},
     "steps[0].concurrency", "at least 1"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "on_failure": 3}, "on_failure", "object"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "on_failure": {"kwargs": {}}},
     "on_failure.task", "required"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "on_finish": {"task": "ops.alert",
                                                                   "args": [1]}},
     "on_finish.args", "not a field of a callback"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "description": 5}, "description", "text"),
    ({"steps": [{"id": "a", "task": "scan.report"}], "id": "other"}, "id", "'other'"),
    ({"steps": [{"id": "a", "task": "scan.report", "trigger_rule": "any_failed"}]},
     "steps[0].trigger_rule", "this step has none"),
])
def test_bad_shape_names_the_field(data: Any, field: str, words: str) -> None:
    error = bad(data)
    assert error.field == field, error
    assert words in error.reason, error


def test_unknown_step_in_after_names_the_step_and_the_known_ones() -> None:
    error = bad(edited(step2={"after": ["probe", "prob"]}))
    assert error.field == "steps[2].after"
    assert "'prob'" in error.reason and "discover, probe, report" in error.reason


def test_unknown_step_in_map() -> None:
    error = bad(edited(step1={"map": "discovery", "after": ["discovery"]}))
    assert error.field == "steps[1].after" and "'discovery'" in error.reason
    error = bad(edited(step1={"map": "discovery"}))
    assert error.field == "steps[1].after" and "'discovery'" in error.reason


def test_a_step_after_the_same_step_twice() -> None:
    error = bad(edited(step2={"after": ["probe", "probe"]}))
    assert (error.field, error.reason) == ("steps[2].after",
                                           "(step 'report') names 'probe' twice")


def test_a_step_after_itself_is_a_cycle() -> None:
    error = bad(edited(step0={"after": ["discover"]}))
    assert error.field == "steps[0].after"
    assert "cycle: discover -> discover" in error.reason


def test_a_cycle_is_named_step_by_step() -> None:
    error = bad(edited(step0={"after": ["report"]}))
    assert error.field.startswith("steps[") and error.field.endswith("].after")
    cycle = error.reason.split("cycle: ")[1].split(" -> ")
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["discover", "probe", "report"]
    for here, there in itertools.pairwise(cycle):
        # each arrow follows an `after` edge of the definition
        data = edited(step0={"after": ["report"]})
        step = next(s for s in data["steps"] if s["id"] == here)
        assert there in step.get("after", []) or step.get("map") == there


def test_a_long_chain_is_checked_without_recursion() -> None:
    steps = [{"id": f"s{i}", "task": "scan.report", **({"after": [f"s{i - 1}"]} if i else {})}
             for i in range(MAX_STEPS)]
    assert len(parse({"steps": steps}).steps) == MAX_STEPS
    steps[0]["after"] = [f"s{MAX_STEPS - 1}"]
    assert "cycle: " in bad({"steps": steps}).reason
    error = bad({"steps": [*steps, {"id": "one-too-many", "task": "scan.report"}]})
    assert (error.field, error.reason) == ("steps", f"at most {MAX_STEPS} steps, got "
                                                    f"{MAX_STEPS + 1}")


def test_unknown_tasks_are_named_per_step_and_callback() -> None:
    error = bad(edited(step1={"task": "scan.prob"}))
    assert error.field == "steps[1].task" and "'scan.prob'" in error.reason
    error = bad(edited(on_failure={"task": "ops.alrt"}))
    assert error.field == "on_failure.task" and "'ops.alrt'" in error.reason


def test_without_a_catalogue_only_the_shape_and_graph_are_checked() -> None:
    w = parse_workflow("wf", edited(step1={"task": "not.known.here"}))
    assert w.step("probe").task == "not.known.here"


@pytest.mark.parametrize(("data", "field", "words"), [
    (edited(step0={"kwargs": {}}), "steps[0].kwargs", "'segment' is a required property"),
    (edited(step0={"kwargs": {"segment": 24}}), "steps[0].kwargs.segment", "not of type"),
    (edited(step0={"kwargs": {"segment": "x", "port": 1}}), "steps[0].kwargs",
     "'port' was unexpected"),
    (edited(step1={"kwargs": {"ports": "80"}}), "steps[1].kwargs.ports", "'80' is not valid"),
    (edited(step1={"kwargs": {"item": "x"}}), "steps[1].kwargs.item", "do not give it"),
    (edited(step2={"args": [1]}), "steps[2].args", "at most 0 positional"),
    (edited(on_failure={"task": "ops.alert", "kwargs": {"channel": 1}}),
     "on_failure.kwargs.channel", "not of type"),
    ({"steps": [{"id": "a", "task": "math.add", "args": ["one"]}]}, "steps[0].kwargs.x",
     "not of type"),
    ({"steps": [{"id": "a", "task": "scan.probe", "map": ["10.0.0.1", 7]}]}, "steps[0].map[1]",
     "not of type"),
    ({"steps": [{"id": "a", "task": "math.add", "kwargs": {"x": 1}},
                {"id": "b", "task": "scan.report", "map": "a"}]}, "steps[1].map",
     "takes no `item`"),
])
def test_arguments_that_do_not_fit_the_task_schema(data: Any, field: str, words: str) -> None:
    error = bad(data)
    assert error.field == field, error
    assert words in error.reason, error


def test_a_map_over_a_step_accepts_any_item_type_until_it_runs() -> None:
    # probe's item is a str; a step's result is known only at run time.
    assert parse(ISSUE_FORM).step("probe").map == "discover"


@pytest.mark.parametrize(("data", "field"), [
    ({"steps": [{"id": "a", "task": "math.add", "kwargs": {"x": {1, 2}}}]}, "steps[0].kwargs"),
    ({"steps": [{"id": "a", "task": "math.add", "args": [float("nan")]}]}, "steps[0].args"),
    ({"steps": [{"id": "a", "task": "scan.probe", "map": [object()]}]}, "steps[0].map"),
    ({"steps": [{"id": "a", "task": "scan.report"}],
      "on_finish": {"task": "ops.alert", "kwargs": {"channel": b"x"}}}, "on_finish.kwargs"),
])
def test_non_json_arguments_are_refused(data: Any, field: str) -> None:
    error = bad(data)
    assert error.field == field and "must be JSON" in error.reason


def test_the_app_checks_against_its_own_tasks() -> None:
    app = Horae("sqlite:///:memory:")
    app.task("ops.report")(report)
    with pytest.raises(InvalidInput) as caught:
        app.workflows.validate("wf", {"steps": [{"id": "a", "task": "scan.report"}]})
    assert caught.value.field == "steps[0].task"
    assert "unknown task 'scan.report'; known tasks: ops.report" in caught.value.reason
    found = app.workflows.validate("wf", {"steps": [{"id": "a", "task": "ops.report"}]})
    assert found.steps[0].task == "ops.report"
    app.stop()


def test_graph_helpers_give_roots_successors_and_a_dependency_order() -> None:
    w = parse({"steps": [
        {"id": "report", "task": "scan.report", "after": ["left", "right"]},
        {"id": "right", "task": "scan.report", "after": ["start"]},
        {"id": "left", "task": "scan.report", "after": ["start"]},
        {"id": "start", "task": "scan.report"},
        {"id": "alone", "task": "scan.report"}]})
    assert w.roots() == ["start", "alone"]
    assert w.downstream() == {"report": [], "right": ["report"], "left": ["report"],
                              "start": ["right", "left"], "alone": []}
    assert w.order() == ["start", "right", "left", "report", "alone"]
    position = {step: i for i, step in enumerate(w.order())}
    assert all(position[dep] < position[s.id] for s in w.steps for dep in s.after)
