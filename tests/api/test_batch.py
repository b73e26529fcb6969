"""``POST /api/v1/schedules:batch``: per-operation results, all or nothing on request, one
audit record per changed schedule, the size bound, idempotency; on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from horae.api.batch_routes import MAX_OPERATIONS
from tests.api.conftest import Clients, snapshot

URL = "/api/v1/schedules:batch"


def op(kind: str, sid: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"op": kind, "id": sid}
    if kind in ("add", "upsert"):
        base |= {"task": "scan", "kwargs": {"targets": ["a"]},
                 "trigger": {"kind": "interval", "seconds": 60}}
    return base | fields


def test_each_operation_gets_its_result_and_each_change_its_audit_record(
        clients: Clients) -> None:
    editor = clients["editor"]
    assert editor.post(URL, json={"operations": [op("add", "old"), op("add", "same")]}
                       ).status_code == 200
    audits = len(clients.store.audit_list(limit=1000))
    response = editor.post(URL, json={"operations": [
        op("add", "a1", policies={"retries": 2}),
        op("update", "old", description="changed"),
        op("upsert", "same"),
        op("add", "bad", trigger={"kind": "cron", "expr": "99 * * * *"}),
        op("add", "nope", task="no.such.task"),
        op("add", "arg", kwargs={"targets": "not a list"}),
        op("remove", "ghost"),
        op("add", "old"),
    ]})
    assert response.status_code == 200, response.text
    body = response.json()
    got = [(r["index"], r["status"], r["error"] and (r["error"]["kind"], r["error"]["field"]))
           for r in body["results"]]
    assert got == [
        (0, "created", None), (1, "updated", None), (2, "unchanged", None),
        (3, "failed", ("invalid", "operations[3].trigger.expr")),
        (4, "failed", ("invalid", "operations[4].task")),
        (5, "failed", ("invalid", "operations[5].kwargs.targets")),
        (6, "failed", ("not_found", "operations[6].id")),
        (7, "failed", ("invalid", "operations[7].id")),  # "old" twice in one batch
    ]
    assert body["summary"] == {"created": 1, "updated": 1, "unchanged": 1, "removed": 0,
                               "failed": 5}
    assert body["results"][0]["schedule"]["policies"]["retries"] == 2
    assert body["results"][1]["schedule"]["version"] == 2
    records = clients.store.audit_list(limit=1000)
    assert len(records) == audits + 2
    assert {(a.action, a.target_id) for a in records[:2]} == {("schedule.create", "a1"),
                                                             ("schedule.update", "old")}
    update = next(a for a in records[:2] if a.target_id == "old")
    assert (update.before["description"], update.after["description"]) == ("", "changed")


@pytest.mark.parametrize("atomic", [False, True])
def test_operations_that_do_not_match_the_document_are_a_422_naming_each(
        clients: Clients, atomic: bool) -> None:
    before = snapshot(clients.horae)
    response = clients["editor"].post(URL, json={"atomic": atomic, "operations": [
        op("add", "ok"),
        op("add", "bad", trigger={"kind": "cron", "expr": "99 * * * *"}),
        op("add", "pol", policies={"retries": -1}),
        op("add", "shape", args="not a list"),
        {"op": "explode", "id": "x"},
        {"op": "remove"},
    ]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    # The shapes are checked first: the cron expression is not looked at yet.
    assert fields == {"operations[2].policies.retries", "operations[3].args",
                      "operations[4].op", "operations[5].id"}
    assert snapshot(clients.horae) == before


def test_an_atomic_batch_with_invalid_operations_is_a_422_naming_each(clients: Clients) -> None:
    before = snapshot(clients.horae)
    response = clients["editor"].post(URL, json={"atomic": True, "operations": [
        op("add", "ok"),
        op("add", "bad", trigger={"kind": "cron", "expr": "99 * * * *"}),
        op("add", "task", task="no.such.task"),
    ]})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [
        "operations[1].trigger.expr", "operations[2].task"]
    assert snapshot(clients.horae) == before


def test_an_atomic_batch_that_conflicts_is_a_409_and_writes_nothing(clients: Clients) -> None:
    editor = clients["editor"]
    editor.post(URL, json={"operations": [op("add", "taken")]})
    before = snapshot(clients.horae)
    response = editor.post(URL, json={"atomic": True, "operations": [
        op("add", "new"), op("remove", "gone"), op("add", "taken")]})
    assert response.status_code == 409, response.text
    assert "operations[1]" in response.json()["detail"]
    assert snapshot(clients.horae) == before


def test_too_many_operations_is_a_clear_422(clients: Clients) -> None:
    ops = [{"op": "remove", "id": f"s{i}"} for i in range(MAX_OPERATIONS + 1)]
    response = clients["editor"].post(URL, json={"operations": ops})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "operations" and str(MAX_OPERATIONS) in error["reason"]


def test_a_dry_run_answers_what_would_change_and_writes_nothing(clients: Clients) -> None:
    clients["editor"].post(URL, json={"operations": [op("add", "a")]})
    before = snapshot(clients.horae)
    response = clients["editor"].post(URL, json={"dry_run": True, "operations": [
        op("add", "b"), op("remove", "a")]})
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["created", "removed"]
    assert snapshot(clients.horae) == before


def test_an_idempotency_key_replays_the_first_answer(clients: Clients) -> None:
    body = {"operations": [op("add", "once")]}
    headers = {"Idempotency-Key": "batch-1"}
    first = clients["editor"].post(URL, json=body, headers=headers)
    again = clients["editor"].post(URL, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert [r["status"] for r in again.json()["results"]] == ["created"]
    assert [s.id for s in clients.horae.schedules.list()] == ["once"]


def test_a_viewer_or_operator_cannot_batch(clients: Clients) -> None:
    before = snapshot(clients.horae)
    for role in ("viewer", "operator"):
        assert clients[role].post(URL, json={"operations": [op("add", "x")]}
                                  ).status_code == 403
    assert snapshot(clients.horae) == before


def test_a_batch_may_be_larger_than_other_bodies_but_is_bounded_too(clients: Clients) -> None:
    from horae.api.batch_routes import MAX_BODY

    editor = clients["editor"]
    pad = "x" * 1000
    ops = [op("add", f"big{i}", description=pad) for i in range(1500)]  # ~1.7 MB of JSON
    response = editor.post(URL, json={"operations": ops})
    assert response.status_code == 200, response.text[:500]
    assert response.json()["summary"]["created"] == 1500
    # Every other body keeps the API's 1 MiB limit.
    other = editor.post("/api/v1/schedules", json={**op("add", "one"), "description": pad * 1100})
    assert other.status_code == 413
    # The batch's own bound is declared up front and refused before it is read.
    huge = editor.post(URL, content=b"{", headers={"Content-Length": str(MAX_BODY + 1),
                                                    "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["errors"][0]["field"] == "body"
