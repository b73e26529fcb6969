"""The canvas builders (task.s, chain, group, chord, task.map, dag) produce exactly the
JSON form a person would write, which validation accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.workflow_support import ISSUE_FORM

from horae import Horae
from horae.errors import InvalidInput
from horae.tasks import Task
from horae.workflows import Workflow, chain, chord, dag, group, signature
from horae.workflows.builders import Signature


@pytest.fixture
def app() -> Iterator[Horae]:
    app = Horae("sqlite:///:memory:")
    yield app
    app.stop()


@pytest.fixture
def tasks(app: Horae) -> dict[str, Task]:
    def discover(segment: str) -> list[str]:
        return []

    def probe(item: str) -> dict[str, Any]:
        return {}

    def report() -> None:
        pass

    def alert() -> None:
        pass

    def add(x: int, y: int = 0) -> int:
        return x + y

    return {"discover": app.task("scan.discover")(discover), "probe": app.task("scan.probe")(probe),
            "report": app.task("scan.report")(report), "alert": app.task("ops.alert")(alert),
            "add": app.task("math.add")(add)}


def test_s_is_a_signature_of_the_task_and_its_arguments(tasks: dict[str, Task]) -> None:
    sig = tasks["add"].s(1, y=2)
    assert isinstance(sig, Signature)
    assert (sig.task, sig.args, sig.kwargs) == ("math.add", [1], {"y": 2})
    assert sig.definition() == {"steps": [{"id": "add", "task": "math.add", "args": [1],
                                           "kwargs": {"y": 2}}]}


def test_chain_map_and_callbacks_give_the_issue_form(app: Horae, tasks: dict[str, Task]) -> None:
    t = tasks
    scan = chain(t["discover"].s(segment="10.0.2.0/24"), t["probe"].map(),
                 t["report"].s().set(trigger_rule="all_done"))
    assert scan.definition(on_failure=t["alert"].s()) == ISSUE_FORM
    # the same with a map over a named upstream signature, and with the | operator
    found = t["discover"].s(segment="10.0.2.0/24")
    piped = found | t["probe"].map(found) | t["report"].s().set(trigger_rule="all_done")
    assert piped.definition(on_failure=t["alert"].s()) == ISSUE_FORM
    # app.workflows.add takes the builder and stores the same JSON
    stored = app.workflows.add("scan", scan, on_failure=t["alert"].s())
    assert stored.definition() == ISSUE_FORM
    assert app.workflows.get("scan").definition() == ISSUE_FORM


def test_group_runs_side_by_side_and_chord_joins_them(tasks: dict[str, Task]) -> None:
    t = tasks
    parts = group(t["add"].s(1), t["add"].s(2), t["add"].s(3))
    assert parts.definition() == {"steps": [
        {"id": "add", "task": "math.add", "args": [1]},
        {"id": "add-2", "task": "math.add", "args": [2]},
        {"id": "add-3", "task": "math.add", "args": [3]}]}
    joined = chord(parts, t["report"].s())
    assert joined.definition()["steps"][-1] == {"id": "report", "task": "scan.report",
                                                "after": ["add", "add-2", "add-3"]}
    # a chord's header may be a plain list, as in Celery
    assert chord([t["add"].s(1), t["add"].s(2)], t["report"].s()).definition()["steps"][-1] \
        == {"id": "report", "task": "scan.report", "after": ["add", "add-2"]}


def test_nested_chains_in_a_group_wire_their_ends(tasks: dict[str, Task]) -> None:
    t = tasks
    flow = chain(t["add"].s(0).set(id="start"),
                 group(chain(t["add"].s(1).set(id="a1"), t["add"].s(2).set(id="a2")),
                       t["add"].s(3).set(id="b")),
                 t["report"].s())
    assert [(s["id"], s.get("after", [])) for s in flow.definition()["steps"]] == [
        ("start", []), ("a1", ["start"]), ("a2", ["a1"]), ("b", ["start"]),
        ("report", ["a2", "b"])]


def test_map_over_a_list_argument_with_a_concurrency_bound(tasks: dict[str, Task]) -> None:
    sig = tasks["probe"].map(["10.0.0.1", "10.0.0.2"], concurrency=1)
    assert sig.definition() == {"steps": [{"id": "probe", "task": "scan.probe",
                                           "map": ["10.0.0.1", "10.0.0.2"], "concurrency": 1}]}


def test_dag_is_explicit_and_options_become_step_fields(app: Horae,
                                                         tasks: dict[str, Task]) -> None:
    t = tasks
    a = t["add"].s(1).set(id="a", queue="math", retries=2, timeout=5, priority=3)
    b = t["add"].s(2).set(id="b")
    c = t["report"].s().set(id="c", trigger_rule="any_failed").after(a, "b")
    built = dag(a, b, c).workflow("explicit", description="by hand")
    assert isinstance(built, Workflow)
    assert built.definition() == {"description": "by hand", "steps": [
        {"id": "a", "task": "math.add", "args": [1], "queue": "math", "retries": 2,
         "timeout": 5, "priority": 3},
        {"id": "b", "task": "math.add", "args": [2]},
        {"id": "c", "task": "scan.report", "after": ["a", "b"], "trigger_rule": "any_failed"}]}
    assert app.workflows.add("explicit", built).definition() == built.definition()


def test_signature_by_name_for_tasks_this_process_lacks() -> None:
    sig = signature("remote.task", [1], {"k": "v"}, id="r", after=["x"])
    assert sig.definition()["steps"] == [{"id": "r", "task": "remote.task", "args": [1],
                                          "kwargs": {"k": "v"}, "after": ["x"]}]


def test_builder_mistakes_are_input_errors(app: Horae, tasks: dict[str, Task]) -> None:
    t = tasks
    with pytest.raises(InvalidInput, match=r"map.*exactly one previous step"):
        group(t["add"].s(1), t["add"].s(2)).__or__(t["probe"].map()).definition()
    with pytest.raises(InvalidInput, match="appears twice"):
        sig = t["add"].s(1)
        chain(sig, sig).definition()
    with pytest.raises(InvalidInput, match="not part of this workflow"):
        dag(t["report"].s().after(t["add"].s(1))).definition()
    with pytest.raises(InvalidInput, match="not a step option"):
        t["add"].s(1).set(colour="red")
    with pytest.raises(InvalidInput, match="parts are signatures"):
        chain(t["add"].s(1), "math.add")  # type: ignore[arg-type]
    # a graph mistake made with builders is caught by the same validation as JSON
    with pytest.raises(InvalidInput) as caught:
        app.workflows.add("dup", group(t["add"].s(1).set(id="x"), t["add"].s(2).set(id="x")))
    assert caught.value.field == "steps[1].id"
    with pytest.raises(InvalidInput) as caught:
        app.workflows.add("args", chain(t["add"].s("one")))
    assert caught.value.field == "steps[0].kwargs.x"
    assert app.workflows.list() == []
