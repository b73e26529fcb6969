"""POST /workflows/{id}/runs: start a workflow run; its steps are children of the answer."""

from __future__ import annotations

from horae.store.base import RunFilter
from tests.api.conftest import Clients

STEPS = {"steps": [{"id": "find", "task": "scan", "kwargs": {"targets": ["a"]}},
                   {"id": "again", "task": "scan", "after": ["find"],
                    "kwargs": {"targets": []}}]}


def test_start_a_workflow_run(clients: Clients) -> None:
    clients.horae.workflows.add("scan-twice", STEPS)
    operator = clients["operator"]
    answer = operator.post("/api/v1/workflows/scan-twice/runs", json={"kwargs": {"port": 81}})
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/api/v1/runs/{run['id']}"
    assert (run["state"], run["fanout"], run["workflow_id"], run["workflow_version"]) == (
        "running", "workflow", "scan-twice", 1)
    assert run["kwargs"] == {"port": 81} and run["warnings"] == []
    kids = clients.horae.store.run_list(RunFilter(parent_id=run["id"]))
    assert [(k.step, k.kwargs) for k in kids] == [("find", {"targets": ["a"], "port": 81})]
    audit = clients.store.audit_list(target_kind="workflow")
    assert [(a.action, a.target_id, a.after["id"]) for a in audit] == [
        ("workflow.run", "scan-twice", run["id"])]
    # without a body: the workflow's own arguments
    assert operator.post("/api/v1/workflows/scan-twice/runs").status_code == 201


def test_bad_input_is_named_and_starts_nothing(clients: Clients) -> None:
    clients.horae.workflows.add("scan-twice", STEPS)
    operator = clients["operator"]
    bad = operator.post("/api/v1/workflows/scan-twice/runs", json={"kwargs": {"port": "x"}})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["kwargs.port"]
    extra = operator.post("/api/v1/workflows/scan-twice/runs", json={"nope": 1})
    assert extra.status_code == 422
    old = operator.post("/api/v1/workflows/scan-twice/runs", json={"version": 7})
    assert old.status_code == 404
    assert operator.post("/api/v1/workflows/missing/runs").status_code == 404
    assert clients.horae.store.run_list() == []
