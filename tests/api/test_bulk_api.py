"""POST /runs:cancel, /runs:retry, /schedules:pause, /schedules:resume: count first with
dry_run, then change, audited once; bad filters are 422 naming the field."""

from __future__ import annotations

from horae import RunState, cron
from tests.api.conftest import Clients


def test_cancel_counts_then_cancels_and_is_audited_once(clients: Clients) -> None:
    ids = [clients.horae.runs.create("scan", kwargs={"targets": ["a"]}).id for _ in range(3)]
    operator = clients["operator"]
    preview = operator.post("/api/v1/runs:cancel", json={"task": "scan", "dry_run": True})
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"action": "runs.cancel", "filter": {
        "task": "scan", "states": ["queued", "scheduled", "retrying"]}, "matched": 3,
        "by_state": {"queued": 3}, "changed": 0, "dry_run": True}
    assert not [a for a in clients.store.audit_list() if a.action == "runs.cancel"]
    done = operator.post("/api/v1/runs:cancel", json={"task": "scan"})
    assert done.status_code == 200, done.text
    assert done.json()["changed"] == 3
    assert [clients.horae.runs.get(i).state for i in ids] == [RunState.CANCELLED] * 3
    [audit] = [a for a in clients.store.audit_list() if a.action == "runs.cancel"]
    assert audit.role == "operator"
    assert audit.target_id == "task=scan states=queued,scheduled,retrying"


def test_retry_once(clients: Clients) -> None:
    run = clients.horae.runs.create("scan", kwargs={"targets": ["a"]})
    [claimed] = clients.horae.store.runs_claim("w", ["default"], 1, 30.0)
    clients.horae.store.run_finish(claimed, "w", RunState.FAILED, error="boom")
    operator = clients["operator"]
    first = operator.post("/api/v1/runs:retry", json={"task": "scan"})
    assert first.json()["changed"] == 1, first.text
    again = operator.post("/api/v1/runs:retry", json={"task": "scan"})
    assert again.json()["changed"] == 0
    assert [r.retry_of for r in clients.horae.runs.list(task="scan") if r.retry_of] == [run.id]


def test_pause_and_resume_by_tag_audit_each_schedule(clients: Clients) -> None:
    for sid in ("a", "b"):
        clients.horae.schedules.add(sid, "scan", cron("0 2 * * *"), kwargs={"targets": []},
                                    tags=["backup"])
    operator = clients["operator"]
    count = operator.post("/api/v1/schedules:pause", json={"tag": "backup", "dry_run": True})
    assert count.json()["matched"] == 2
    paused = operator.post("/api/v1/schedules:pause", json={"tag": "backup"})
    assert paused.json()["changed"] == 2, paused.text
    assert all(clients.horae.schedules.get(s).paused for s in "ab")
    updates = [a for a in clients.store.audit_list() if a.action == "schedule.update"]
    assert sorted(a.target_id for a in updates) == ["a", "b"]
    resumed = operator.post("/api/v1/schedules:resume", json={"tag": "backup"})
    assert resumed.json()["changed"] == 2
    assert not any(clients.horae.schedules.get(s).paused for s in "ab")


def test_bad_filters_are_named_and_change_nothing(clients: Clients) -> None:
    run = clients.horae.runs.create("scan", kwargs={"targets": ["a"]})
    operator = clients["operator"]
    for body, field in (({}, "filter"), ({"task": "scan", "states": ["succeeded"]}, "states"),
                        ({"task": "scan", "colour": 1}, "colour"),
                        ({"task": 5}, "task")):
        answer = operator.post("/api/v1/runs:cancel", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
    assert clients.horae.runs.get(run.id).state is RunState.QUEUED
    no_tag = operator.post("/api/v1/schedules:pause", json={})
    assert no_tag.status_code == 422 and no_tag.json()["errors"][0]["field"] == "tag"


def test_a_viewer_cannot_change_in_bulk(clients: Clients) -> None:
    clients.horae.runs.create("scan", kwargs={"targets": ["a"]})
    answer = clients["viewer"].post("/api/v1/runs:cancel", json={"task": "scan"})
    assert answer.status_code == 403
    assert clients.anonymous.post("/api/v1/runs:cancel", json={"task": "scan"}).status_code \
        == 401
