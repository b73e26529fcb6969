"""Workflows in the store: add, get, list, replace with a version check, remove, and the
kept versions, on every backend."""

from __future__ import annotations

import threading

import pytest

from horae.errors import Conflict, NotFound
from horae.store import Store
from horae.workflows.model import Workflow
from horae.workflows.validate import parse_workflow
from tests.workflow_support import ISSUE_FORM


def workflow(workflow_id: str = "scan", description: str = "") -> Workflow:
    return parse_workflow(workflow_id, dict(ISSUE_FORM, description=description))


def test_add_then_get_round_trips_the_definition(store: Store) -> None:
    before = store.now()
    added = store.workflow_add(workflow(description="segment scan"))
    got = store.workflow_get("scan")
    assert got == added
    assert got.version == 1
    assert before - 1 <= got.created_at == got.updated_at <= store.now() + 1  # type: ignore[operator]
    assert got.definition() == dict(ISSUE_FORM, description="segment scan")
    assert got.step("probe").map == "discover"


def test_get_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.workflow_get("nope")
    with pytest.raises(NotFound):
        store.workflow_get("nope", 1)


def test_duplicate_id_is_a_conflict_and_changes_nothing(store: Store) -> None:
    store.workflow_add(workflow())
    with pytest.raises(Conflict):
        store.workflow_add(workflow(description="other"))
    assert store.workflow_get("scan").description == ""
    assert store.workflow_versions("scan") == [1]


def test_replace_bumps_the_version_and_keeps_each_one(store: Store) -> None:
    first = store.workflow_add(workflow())
    second = store.workflow_replace(workflow(description="v2"), expected_version=1)
    assert (second.version, second.description, second.created_at) == (2, "v2",
                                                                        first.created_at)
    third = store.workflow_replace(workflow(description="v3"))  # unconditional
    assert third.version == 3
    assert store.workflow_versions("scan") == [1, 2, 3]
    assert store.workflow_get("scan", 1).description == ""
    assert store.workflow_get("scan", 2).description == "v2"
    assert store.workflow_get("scan").description == "v3"


def test_replace_at_a_stale_version_is_a_conflict_and_writes_nothing(store: Store) -> None:
    store.workflow_add(workflow())
    store.workflow_replace(workflow(description="v2"), expected_version=1)
    with pytest.raises(Conflict, match="version 2, expected 1"):
        store.workflow_replace(workflow(description="lost"), expected_version=1)
    assert store.workflow_get("scan").description == "v2"
    assert store.workflow_versions("scan") == [1, 2]
    with pytest.raises(NotFound):
        store.workflow_replace(workflow("absent"))


def test_remove_keeps_versions_and_a_new_add_goes_on_from_them(store: Store) -> None:
    store.workflow_add(workflow())
    store.workflow_replace(workflow(description="v2"))
    with pytest.raises(Conflict):
        store.workflow_delete("scan", expected_version=1)
    store.workflow_delete("scan", expected_version=2)
    with pytest.raises(NotFound):
        store.workflow_get("scan")
    with pytest.raises(NotFound):
        store.workflow_delete("scan")
    assert store.workflow_get("scan", 2).description == "v2"  # history stays
    again = store.workflow_add(workflow(description="again"))
    assert again.version == 3
    assert store.workflow_versions("scan") == [1, 2, 3]


def test_list_orders_by_id_pages_and_searches(store: Store) -> None:
    for name, text in (("b-scan", "Weekly 50%_off"), ("a-scan", "daily"), ("c-report", "")):
        store.workflow_add(workflow(name, text))
    assert [w.id for w in store.workflow_list()] == ["a-scan", "b-scan", "c-report"]
    assert [w.id for w in store.workflow_list(limit=2)] == ["a-scan", "b-scan"]
    assert [w.id for w in store.workflow_list(after="b-scan")] == ["c-report"]
    assert [w.id for w in store.workflow_list(search="SCAN")] == ["a-scan", "b-scan"]
    assert [w.id for w in store.workflow_list(search="weekly")] == ["b-scan"]
    # LIKE's wildcards are text here
    assert [w.id for w in store.workflow_list(search="50%_")] == ["b-scan"]
    assert [w.id for w in store.workflow_list(search="%")] == ["b-scan"]
    assert store.workflow_list(search="nothing") == []


def test_concurrent_writers_at_one_version_exactly_one_wins(store: Store) -> None:
    store.workflow_add(workflow())
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def write(n: int) -> None:
        start.wait()
        try:
            store.workflow_replace(workflow(description=f"writer {n}"), expected_version=1)
            outcomes.append(f"won {n}")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes)[:3] == ["conflict"] * 3 and len(outcomes) == 4
    winner = next(o for o in outcomes if o.startswith("won"))
    assert store.workflow_get("scan").description == f"writer {winner.split()[1]}"
    assert store.workflow_versions("scan") == [1, 2]
    assert store.workflow_get("scan", 2).description == store.workflow_get("scan").description


def test_concurrent_adds_of_one_id_exactly_one_wins(store: Store) -> None:
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def add(n: int) -> None:
        start.wait()
        try:
            store.workflow_add(workflow(description=f"adder {n}"))
            outcomes.append("added")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["added", "conflict", "conflict", "conflict"]
    assert store.workflow_versions("scan") == [1]
