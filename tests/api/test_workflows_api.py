"""``/api/v1/workflows``: CRUD of workflow definitions, versions, If-Match, errors as problem
documents naming the field, audit, idempotency; and ``GET /runs?parent=ID``. On every
backend."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from horae import Horae
from horae.store import NewRun
from tests.api.conftest import Clients, snapshot

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/workflows"


def docs_definition() -> dict[str, Any]:
    """The JSON form docs/workflows.md shows first (the segment scan)."""
    text = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    data: dict[str, Any] = json.loads(block.group(1))
    return data


def register_scan_tasks(app: Horae) -> Horae:
    """The tasks of docs/workflows.md (no ``from __future__`` needed: they are plain)."""

    @app.task("scan.discover")
    def discover(segment: str) -> list[str]:
        return []

    @app.task("scan.probe")
    def probe(item: str) -> dict[str, Any]:
        return {}

    @app.task("scan.report")
    def report() -> None:
        pass

    @app.task("ops.alert")
    def alert(channel: str = "ops") -> None:
        pass

    return app


@pytest.fixture
def wf(horae_app: Horae) -> Clients:
    return Clients(register_scan_tasks(horae_app))


def create(c: Clients, wid: str = "segment-scan", **extra: Any) -> dict[str, Any]:
    response = c["editor"].post(URL, json={"id": wid, **docs_definition(), **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def field_of(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    field: str = response.json()["errors"][0]["field"]
    return field


def test_the_docs_example_round_trips(wf: Clients) -> None:
    definition = docs_definition()
    response = wf["editor"].post(URL, json={"id": "segment-scan", **definition})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/workflows/segment-scan"
    assert response.headers["etag"] == '"1"'
    created = response.json()
    assert created["version"] == 1 and created["id"] == "segment-scan"
    assert created["on_success"] is None and created["on_finish"] is None

    read = wf["viewer"].get(f"{URL}/segment-scan")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    body = read.json()
    assert body == created
    assert {k: v for k, v in body.items() if k in definition} == definition
    assert wf.horae.workflows.get("segment-scan").definition() == definition

    listed = wf["viewer"].get(URL).json()
    assert listed == {"items": [created], "next_cursor": None}
    # what GET answers can be sent back as it is
    again = wf["editor"].put(f"{URL}/segment-scan", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["version"] == 2 and again.headers["etag"] == '"2"'
    assert wf.horae.workflows.get("segment-scan").definition() == definition


def test_list_pages_by_id_and_searches(wf: Clients) -> None:
    for wid in ("c", "a", "b"):
        create(wf, wid, description=f"about {wid}")
    viewer = wf["viewer"]
    first = viewer.get(URL, params={"limit": 2}).json()
    assert [w["id"] for w in first["items"]] == ["a", "b"] and first["next_cursor"] == "b"
    rest = viewer.get(URL, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [w["id"] for w in rest["items"]] == ["c"] and rest["next_cursor"] is None
    assert [w["id"] for w in viewer.get(URL, params={"search": "ABOUT B"}).json()["items"]] \
        == ["b"]
    bad = viewer.get(URL, params={"limit": 0})
    assert bad.status_code == 422 and field_of(bad) == "limit"


def test_patch_changes_parts_and_versions_are_kept(wf: Clients) -> None:
    create(wf)
    editor = wf["editor"]
    patched = editor.patch(f"{URL}/segment-scan", json={
        "description": "nightly", "on_failure": None,
        "on_success": {"task": "ops.alert", "kwargs": {"channel": "scan"}}})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["version"], body["description"]) == (2, "nightly")
    assert body["on_failure"] is None
    assert body["on_success"] == {"task": "ops.alert", "kwargs": {"channel": "scan"}}
    assert body["steps"] == docs_definition()["steps"]
    # nothing to change: no new version
    assert editor.patch(f"{URL}/segment-scan", json={}).json()["version"] == 2
    steps = editor.patch(f"{URL}/segment-scan", json={"steps": [
        {"id": "discover", "task": "scan.discover", "kwargs": {"segment": "10.0.9.0/24"}}]})
    assert steps.status_code == 200 and len(steps.json()["steps"]) == 1
    assert steps.json()["description"] == "nightly"

    versions = wf["viewer"].get(f"{URL}/segment-scan/versions")
    assert versions.json() == {"id": "segment-scan", "versions": [1, 2, 3]}
    old = wf["viewer"].get(f"{URL}/segment-scan", params={"version": 1})
    assert old.status_code == 200 and old.headers["etag"] == '"1"'
    assert len(old.json()["steps"]) == 3 and old.json()["on_failure"] == {"task": "ops.alert"}


def test_if_match_and_version_guard_against_lost_updates(wf: Clients) -> None:
    create(wf)
    editor = wf["editor"]
    path = f"{URL}/segment-scan"
    ok = editor.patch(path, json={"description": "one"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    before = snapshot(wf.horae)
    stale = editor.patch(path, json={"description": "two"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and "version 2" in stale.json()["detail"]
    assert editor.put(path, json=docs_definition(),
                      headers={"If-Match": '"1"'}).status_code == 412
    assert editor.delete(path, headers={"If-Match": '"1"'}).status_code == 412
    # a version in the body (as GET answers it) that is no longer current: 409
    moved = editor.put(path, json={**docs_definition(), "version": 1})
    assert moved.status_code == 409, moved.text
    assert "changed meanwhile" in moved.json()["detail"]
    assert snapshot(wf.horae) == before
    assert editor.put(path, json={**docs_definition(), "version": 2}).status_code == 200
    assert editor.delete(path, headers={"If-Match": '"3"'}).status_code == 204


def test_delete_keeps_the_versions_readable(wf: Clients) -> None:
    create(wf)
    assert wf["editor"].delete(f"{URL}/segment-scan").status_code == 204
    assert wf["viewer"].get(f"{URL}/segment-scan").status_code == 404
    assert wf["viewer"].get(URL).json()["items"] == []
    assert wf["viewer"].get(f"{URL}/segment-scan/versions").json()["versions"] == [1]
    assert wf["viewer"].get(f"{URL}/segment-scan", params={"version": 1}).status_code == 200
    assert wf["editor"].delete(f"{URL}/segment-scan").status_code == 404
    # added again under the same id, it goes on numbering
    assert create(wf)["version"] == 2


BAD_CREATES = [
    ({"id": "bad id!"}, "id"),
    ({"steps": []}, "steps"),
    ({"steps": [{"id": "a", "task": "scan.report", "after": ["nope"]}]}, "steps[0].after"),
    ({"steps": [{"id": "a", "task": "no.such.task"}]}, "steps[0].task"),
    ({"steps": [{"id": "a", "task": "scan.discover", "kwargs": {"segment": 24}}]},
     "steps[0].kwargs.segment"),
    ({"steps": [{"id": "a", "task": "scan.report"}, {"id": "a", "task": "scan.report"}]},
     "steps[1].id"),
    ({"steps": [{"id": "a", "task": "scan.report", "after": ["b"]},
                {"id": "b", "task": "scan.report", "after": ["a"]}]}, "steps[0].after"),
    ({"steps": [{"id": "a", "task": "scan.report", "colour": "red"}]}, "steps[0].colour"),
    ({"on_failure": {"task": "ops.nope"}}, "on_failure.task"),
    ({"on_failure": 5}, "on_failure"),
    ({"description": 5}, "description"),
    ({"colour": "red"}, "colour"),
    ({"steps": "discover"}, "steps"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CREATES)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
        wf: Clients, change: dict[str, Any], field: str) -> None:
    before = snapshot(wf.horae)
    response = wf["editor"].post(URL, json={"id": "x", **docs_definition(), **change})
    assert response.status_code == 422, response.text
    assert field_of(response) == field
    assert snapshot(wf.horae) == before


def test_other_errors(wf: Clients) -> None:
    create(wf)
    editor, viewer = wf["editor"], wf["viewer"]
    before = snapshot(wf.horae)
    duplicate = editor.post(URL, json={"id": "segment-scan", **docs_definition()})
    assert duplicate.status_code == 409 and "already exists" in duplicate.json()["detail"]
    assert viewer.get(f"{URL}/nope").status_code == 404
    assert viewer.get(f"{URL}/nope/versions").status_code == 404
    assert viewer.get(f"{URL}/segment-scan", params={"version": 9}).status_code == 404
    bad_version = viewer.get(f"{URL}/segment-scan", params={"version": 0})
    assert bad_version.status_code == 422 and field_of(bad_version) == "version"
    assert editor.put(f"{URL}/nope", json=docs_definition()).status_code == 404
    assert editor.patch(f"{URL}/nope", json={"description": "x"}).status_code == 404
    other_id = editor.put(f"{URL}/segment-scan", json={"id": "other", **docs_definition()})
    assert other_id.status_code == 422 and field_of(other_id) == "id"
    bad_patch = editor.patch(f"{URL}/segment-scan", json={"steps": [
        {"id": "a", "task": "scan.report", "trigger_rule": "sometimes"}]})
    assert bad_patch.status_code == 422 and field_of(bad_patch) == "steps[0].trigger_rule"
    no_steps = editor.put(f"{URL}/segment-scan", json={"description": "x"})
    assert no_steps.status_code == 422 and field_of(no_steps) == "steps"
    text = editor.post(URL, content=b"steps", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    broken = editor.post(URL, content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert snapshot(wf.horae) == before


def test_refused_without_a_token_or_the_role_and_nothing_changes(wf: Clients) -> None:
    create(wf)
    before = snapshot(wf.horae)
    body = {"id": "new", **docs_definition()}
    assert wf.anonymous.get(URL).status_code == 401
    assert wf.anonymous.get(f"{URL}/segment-scan").status_code == 401
    assert wf.anonymous.post(URL, json=body).status_code == 401
    for role in ("viewer", "operator"):
        client = wf[role]
        assert client.post(URL, json=body).status_code == 403
        assert client.put(f"{URL}/segment-scan", json=docs_definition()).status_code == 403
        assert client.patch(f"{URL}/segment-scan", json={"description": "x"}).status_code \
            == 403
        assert client.delete(f"{URL}/segment-scan").status_code == 403
        assert client.get(f"{URL}/segment-scan").status_code == 200
    assert snapshot(wf.horae) == before


def test_each_change_is_audited_with_before_and_after(wf: Clients) -> None:
    create(wf)
    editor = wf["editor"]
    editor.patch(f"{URL}/segment-scan", json={"description": "nightly"})
    editor.put(f"{URL}/segment-scan", json=docs_definition())
    editor.delete(f"{URL}/segment-scan")
    records = [a for a in wf.store.audit_list(limit=100) if a.target_kind == "workflow"]
    [editor_actor] = [t.id for t in wf.store.tokens_list() if t.name == "editor-client"]
    assert [(a.action, a.target_id, a.actor) for a in reversed(records)] == [
        ("workflow.create", "segment-scan", editor_actor),
        ("workflow.update", "segment-scan", editor_actor),
        ("workflow.replace", "segment-scan", editor_actor),
        ("workflow.delete", "segment-scan", editor_actor),
    ]
    create_, update, replace, delete = reversed(records)
    assert create_.before is None and create_.after["version"] == 1
    assert (update.before["description"], update.after["description"]) == ("", "nightly")
    assert (replace.before["version"], replace.after["version"]) == (2, 3)
    assert delete.before["version"] == 3 and delete.after is None


def test_create_with_an_idempotency_key_is_made_once(wf: Clients) -> None:
    key = {"Idempotency-Key": "wf-1"}
    body = {"id": "segment-scan", **docs_definition()}
    first = wf["editor"].post(URL, json=body, headers=key)
    again = wf["editor"].post(URL, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert wf.horae.workflows.versions("segment-scan") == [1]


def test_the_document_lists_the_workflow_routes(wf: Clients) -> None:
    doc = wf["viewer"].get("/api/v1/openapi.json").json()
    assert set(doc["paths"]["/api/v1/workflows"]) == {"get", "post"}
    assert set(doc["paths"]["/api/v1/workflows/{workflow_id}"]) == {
        "get", "put", "patch", "delete"}
    assert set(doc["paths"]["/api/v1/workflows/{workflow_id}/versions"]) == {"get"}
    assert "StepSpec" in json.dumps(doc["components"]["schemas"]["WorkflowOut"])


# -- children of a fan-out parent --------------------------------------------------------------


def test_runs_list_by_parent_lists_its_children(wf: Clients) -> None:
    store = wf.horae.store
    [parent] = store.runs_add([NewRun("scan", kwargs={"targets": ["a"]}, fanout="shard",
                                      shard_total=3)])
    [lone] = store.runs_add([NewRun("scan", kwargs={"targets": ["a"]})])
    assert store.runs_expand() == 3
    viewer = wf["viewer"]
    children = viewer.get("/api/v1/runs", params={"parent": parent.id}).json()
    assert len(children["items"]) == 3
    assert {r["parent_id"] for r in children["items"]} == {parent.id}
    assert sorted(r["shard_index"] for r in children["items"]) == [0, 1, 2]
    page = viewer.get("/api/v1/runs", params={"parent": parent.id, "limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    assert viewer.get("/api/v1/runs", params={"parent": lone.id}).json()["items"] == []
    for bad in ("0", "x"):
        response = viewer.get("/api/v1/runs", params={"parent": bad})
        assert response.status_code == 422 and field_of(response) == "parent"
