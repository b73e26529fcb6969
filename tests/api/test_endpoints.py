"""What each endpoint answers: lists and cursors, preview, catalogue, audit, tokens, logs."""

from __future__ import annotations

from typing import Any

import pytest

from horae.store.api_store import ApiStore
from tests.api.conftest import Clients


def _add(clients: Clients, sid: str, **extra: Any) -> None:
    clients.horae.schedules.add(sid, "scan", {"kind": "cron", "expr": "0 2 * * *",
                                              "tz": "Europe/Berlin"},
                                kwargs={"targets": ["a"]}, **extra)


def test_schedule_list_filters_and_cursor_pages(clients: Clients) -> None:
    for i in range(7):
        _add(clients, f"s{i}", paused=i % 2 == 0)
    viewer = clients["viewer"]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = viewer.get("/api/v1/schedules", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"s{i}" for i in range(7)]
    paused = viewer.get("/api/v1/schedules", params={"paused": "true"}).json()["items"]
    assert [s["id"] for s in paused] == ["s0", "s2", "s4", "s6"]
    one = viewer.get("/api/v1/schedules/s1")
    assert one.headers["etag"] == '"1"'
    assert one.json()["trigger_description"].startswith("At 02:00")
    assert viewer.get("/api/v1/schedules/nope").status_code == 404


def test_run_list_filters_and_cursor(clients: Clients) -> None:
    h = clients.horae
    ids = [h.runs.create("scan", kwargs={"targets": [str(i)]}).id for i in range(5)]
    h.runs.cancel(ids[0])
    viewer = clients["viewer"]
    page = viewer.get("/api/v1/runs", params={"limit": 2}).json()
    assert [r["id"] for r in page["items"]] == ids[::-1][:2]
    rest = viewer.get("/api/v1/runs", params={"cursor": page["next_cursor"]}).json()
    assert [r["id"] for r in rest["items"]] == ids[::-1][2:]
    cancelled = viewer.get("/api/v1/runs", params=[("state", "cancelled")]).json()["items"]
    assert [r["id"] for r in cancelled] == [ids[0]]
    both = viewer.get("/api/v1/runs", params=[("state", "cancelled"), ("state", "queued")])
    assert len(both.json()["items"]) == 5
    assert viewer.get("/api/v1/runs", params={"task": "gated"}).json()["items"] == []
    assert viewer.get("/api/v1/runs", params={"since": "2999-01-01T00:00:00Z"}).json()[
        "items"] == []
    assert len(viewer.get("/api/v1/runs", params={"since": "0"}).json()["items"]) == 5
    run = viewer.get(f"/api/v1/runs/{ids[1]}").json()
    assert run["state"] == "queued" and run["kwargs"] == {"targets": ["1"]}
    assert run["created_at"].endswith("Z")
    assert viewer.get("/api/v1/runs/999999").status_code == 404


def test_preview_with_description_and_zone(clients: Clients) -> None:
    _add(clients, "p")
    body = clients["viewer"].get("/api/v1/schedules/p/preview", params={"n": 3}).json()
    assert body["zone"] == "Europe/Berlin" and len(body["fires"]) == 3
    assert body["description"] == "At 02:00 (Europe/Berlin)"
    assert all(f["local"][11:19] == "02:00:00" for f in body["fires"])
    zh = clients["viewer"].get("/api/v1/schedules/p/preview", params={"locale": "zh"}).json()
    assert zh["description"] != body["description"]
    assert clients["viewer"].get("/api/v1/schedules/p/preview",
                                 params={"n": 101}).status_code == 422


def test_operator_actions_and_their_audit(clients: Clients) -> None:
    _add(clients, "a1")
    operator = clients["operator"]
    paused = operator.post("/api/v1/schedules/a1/pause")
    assert paused.json()["paused"] is True and paused.headers["etag"] == '"2"'
    assert operator.post("/api/v1/schedules/a1/resume").json()["paused"] is False
    run = operator.post("/api/v1/schedules/a1/trigger")
    assert run.status_code == 201 and run.headers["location"] == f"/api/v1/runs/{run.json()['id']}"
    run_id = run.json()["id"]
    assert operator.post(f"/api/v1/runs/{run_id}/cancel").json()["state"] == "cancelled"
    assert operator.post(f"/api/v1/runs/{run_id}/cancel").status_code == 409
    retried = operator.post(f"/api/v1/runs/{run_id}/retry").json()
    assert retried["retry_of"] == run_id
    audit = clients["viewer"].get("/api/v1/audit").json()["items"]
    assert [a["action"] for a in audit] == ["run.retry", "run.cancel", "schedule.trigger",
                                            "schedule.resume", "schedule.pause"]
    pause = audit[-1]
    assert pause["actor"] == clients.api.auth.authenticate(
        f"Bearer {clients.tokens['operator']}", "t").token_id
    assert pause["role"] == "operator" and pause["target_id"] == "a1"
    assert (pause["before"]["paused"], pause["after"]["paused"]) == (False, True)
    only = clients["viewer"].get("/api/v1/audit", params={"action": "run.cancel"}).json()
    assert [a["action"] for a in only["items"]] == ["run.cancel"]


def test_audit_is_append_only(clients: Clients) -> None:
    clients.store.audit_add(actor="x", role="admin", action="a", target_kind="k",
                            target_id="1")
    with pytest.raises(Exception, match="append-only"), \
            clients.horae.store.db.write() as tx:
        tx.run("UPDATE horae_audit SET actor = 'y'")
    with pytest.raises(Exception, match="append-only"), \
            clients.horae.store.db.write() as tx:
        tx.run("DELETE FROM horae_audit")
    assert [a.actor for a in ApiStore(clients.horae.store).audit_list()] == ["x"]


def test_tasks_workers_and_logs(clients: Clients) -> None:
    viewer = clients["viewer"]
    tasks = viewer.get("/api/v1/tasks").json()["items"]
    assert [t["name"] for t in tasks] == ["gated", "scan"]
    scan = viewer.get("/api/v1/tasks/scan").json()
    assert scan["schema"]["required"] == ["targets"]
    assert viewer.get("/api/v1/tasks/nope").status_code == 404
    assert viewer.get("/api/v1/workers").json() == {"items": []}
    run = clients.horae.runs.create("scan", kwargs={"targets": []})
    logs = viewer.get(f"/api/v1/runs/{run.id}/logs").json()
    assert logs == {"items": [], "next_after": 0, "run_state": "queued"}
    assert viewer.get(f"/api/v1/runs/{run.id}/logs",
                      params={"follow": "true"}).status_code == 406


def test_tokens_through_the_api(clients: Clients) -> None:
    admin = clients["admin"]
    made = admin.post("/api/v1/tokens", json={"name": "ci", "role": "operator"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert "hash" not in made.json() and made.headers["cache-control"] == "no-store"
    listed = admin.get("/api/v1/tokens").json()["items"]
    assert all("token" not in t and "hash" not in t for t in listed)
    ci = clients.client(token)
    assert ci.post("/api/v1/runs", json={"task": "scan", "kwargs": {"targets": []}}
                   ).status_code == 201
    own_id = made.json()["id"]
    assert admin.delete(f"/api/v1/tokens/{own_id}").json()["revoked_at"] is not None
    assert ci.get("/api/v1/runs").status_code == 401
    me = clients.api.auth.authenticate(f"Bearer {clients.tokens['admin']}", "t").token_id
    assert admin.delete(f"/api/v1/tokens/{me}").status_code == 409


def test_openapi_document_and_docs_page(clients: Clients) -> None:
    doc = clients["viewer"].get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    create = doc["paths"]["/api/v1/schedules"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    policies = doc["components"]["schemas"]["PoliciesInput"]["properties"]
    assert policies["retries"]["maximum"] == 1000, "constraints come from horae.models.Policies"
    assert set(schema["required"]) == {"id", "task", "trigger"}
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    page = clients["viewer"].get("/api/v1/docs")
    assert page.headers["content-type"].startswith("text/html") and "/api/v1/runs" in page.text
    assert clients.anonymous.get("/api/v1/docs").status_code == 401
