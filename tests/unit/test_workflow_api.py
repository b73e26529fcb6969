"""``app.workflows``: writes validate first and write nothing on bad input; update changes
only what it is given; versions act as If-Match."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.workflow_support import ISSUE_FORM, alert, discover, probe, report

from horae import Horae
from horae.errors import Conflict, InvalidInput, NotFound


@pytest.fixture
def app() -> Iterator[Horae]:
    app = Horae("sqlite:///:memory:")
    for name, func in (("scan.discover", discover), ("scan.probe", probe),
                       ("scan.report", report), ("ops.alert", alert)):
        app.task(name)(func)
    yield app
    app.stop()


def test_update_without_a_definition_changes_only_the_given_fields(app: Horae) -> None:
    app.workflows.add("scan", ISSUE_FORM)
    changed = app.workflows.update("scan", description="nightly",
                                   on_success={"task": "ops.alert", "kwargs": {"channel": "x"}})
    assert changed.version == 2
    assert changed.definition() == dict(ISSUE_FORM, description="nightly",
                                        on_success={"task": "ops.alert",
                                                    "kwargs": {"channel": "x"}})
    cleared = app.workflows.update("scan", on_failure=None, on_success=None)
    assert cleared.on_failure is None and cleared.on_success is None
    assert cleared.steps == changed.steps and cleared.description == "nightly"


def test_update_with_a_definition_replaces_it_at_the_expected_version(app: Horae) -> None:
    app.workflows.add("scan", ISSUE_FORM, description="first")
    only_discover = {"steps": [ISSUE_FORM["steps"][0]]}
    replaced = app.workflows.update("scan", only_discover, expected_version=1)
    assert replaced.definition() == only_discover  # the description was part of the old one
    with pytest.raises(Conflict):
        app.workflows.update("scan", ISSUE_FORM, expected_version=1)
    with pytest.raises(Conflict):
        app.workflows.remove("scan", expected_version=1)
    app.workflows.remove("scan", expected_version=2)
    with pytest.raises(NotFound):
        app.workflows.update("scan", ISSUE_FORM)


def test_bad_input_writes_nothing(app: Horae) -> None:
    app.workflows.add("scan", ISSUE_FORM)
    for call, field in (
        (lambda: app.workflows.add("bad id!", ISSUE_FORM), "id"),
        (lambda: app.workflows.add("new", "steps: []"), "definition"),
        (lambda: app.workflows.add("new", ISSUE_FORM, colour="red"), "colour"),
        (lambda: app.workflows.update("scan", on_failure={"task": "ops.nope"}),
         "on_failure.task"),
        (lambda: app.workflows.update("scan", {"steps": [
            dict(ISSUE_FORM["steps"][1], map="nowhere")]}), "steps[0].after"),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field
    assert [w.id for w in app.workflows.list()] == ["scan"]
    assert app.workflows.versions("scan") == [1]


def test_adding_a_taken_id_is_a_conflict(app: Horae) -> None:
    app.workflows.add("scan", ISSUE_FORM)
    with pytest.raises(Conflict, match="already exists"):
        app.workflows.add("scan", ISSUE_FORM)
