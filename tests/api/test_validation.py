"""Bad input through the REST API: a 4xx problem document naming the field, and the database
unchanged. On every backend."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Clients, snapshot

GOOD: dict[str, Any] = {"id": "s1", "task": "scan", "kwargs": {"targets": ["a"]},
                        "trigger": {"kind": "cron", "expr": "0 2 * * *", "tz": "UTC"}}

BAD_SCHEDULES = [
    ("malformed cron", {"trigger": {"kind": "cron", "expr": "61 * * * *"}}, "trigger.expr"),
    ("impossible cron", {"trigger": {"kind": "cron", "expr": "0 0 30 2 *"}}, "trigger.expr"),
    ("unknown zone", {"trigger": {"kind": "cron", "expr": "0 2 * * *", "tz": "Mars/Olympus"}},
     "trigger.tz"),
    ("unknown trigger kind", {"trigger": {"kind": "sometimes"}}, "trigger"),
    ("unknown task", {"task": "no.such.task"}, "task"),
    ("arguments break the schema", {"kwargs": {"targets": "not-a-list"}}, "kwargs.targets"),
    ("missing argument", {"kwargs": {}}, "kwargs"),
    ("unknown argument", {"kwargs": {"targets": ["a"], "colour": "red"}}, "kwargs"),
    ("negative interval", {"trigger": {"kind": "interval", "seconds": -5}}, "trigger.seconds"),
    ("zero interval", {"trigger": {"kind": "interval", "seconds": 0}}, "trigger.seconds"),
    ("end before start", {"policies": {"start_at": "2030-01-02T00:00:00Z",
                                       "end_at": "2030-01-01T00:00:00Z"}}, "policies.end_at"),
    ("negative retries", {"policies": {"retries": -1}}, "policies.retries"),
    ("bad overlap", {"policies": {"overlap": "sometimes"}}, "policies.overlap"),
    ("zero timeout", {"policies": {"timeout": 0}}, "policies.timeout"),
    ("unknown policy", {"policies": {"colour": "red"}}, "policies.colour"),
    ("bad id", {"id": "bad id!"}, "id"),
    ("date in the past", {"trigger": {"kind": "date", "at": "2001-01-01T00:00:00Z"}},
     "trigger"),
    ("string as a number", {"policies": {"priority": "5"}}, "policies.priority"),
    ("NUL in text", {"description": "a\u0000b"}, "description"),
]


def assert_problem(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    fields = [e["field"] for e in body["errors"]]
    assert any(f.startswith(field) for f in fields), (field, body)
    assert all(e["reason"] for e in body["errors"])
    return dict(body)


@pytest.mark.parametrize(("change", "field"), [c[1:] for c in BAD_SCHEDULES],
                         ids=[c[0] for c in BAD_SCHEDULES])
def test_bad_schedule_is_refused_with_the_field_and_nothing_changes(
        clients: Clients, change: dict[str, Any], field: str) -> None:
    before = snapshot(clients.horae)
    response = clients["editor"].post("/api/v1/schedules", json=GOOD | change)
    assert_problem(response, 422, field)
    assert snapshot(clients.horae) == before


def test_bad_update_is_refused_and_the_schedule_is_unchanged(clients: Clients) -> None:
    editor = clients["editor"]
    assert editor.post("/api/v1/schedules", json=GOOD).status_code == 201
    before = snapshot(clients.horae)
    for body, field in [
        ({"trigger": {"kind": "cron", "expr": "0 0 31 4 *"}}, "trigger.expr"),
        ({"kwargs": {"targets": 5}}, "kwargs.targets"),
        ({"task": "ghost"}, "task"),
        ({"policies": {"jitter": -1}}, "policies.jitter"),
        ({"paused": True, "policies": {"retries": "many"}}, "policies.retries"),
    ]:
        assert_problem(editor.patch("/api/v1/schedules/s1", json=body), 422, field)
        whole = {k: v for k, v in (GOOD | body).items() if k != "id"}
        assert_problem(editor.put("/api/v1/schedules/s1", json=whole), 422, field)
    assert snapshot(clients.horae) == before


def test_bad_ad_hoc_run_is_refused_and_no_run_is_written(clients: Clients) -> None:
    operator = clients["operator"]
    before = snapshot(clients.horae)
    for body, field in [
        ({"task": "scan", "kwargs": {"targets": 1}}, "kwargs.targets"),
        ({"task": "scan", "kwargs": {"targets": []}, "at": "tomorrow"}, "at"),
        ({"task": "scan", "kwargs": {"targets": []}, "delay": -1}, "delay"),
        ({"task": "nope"}, "task"),
    ]:
        assert_problem(operator.post("/api/v1/runs", json=body), 422, field)
    assert snapshot(clients.horae) == before


def test_oversize_body_is_413(clients: Clients) -> None:
    before = snapshot(clients.horae)
    big = GOOD | {"description": "x" * (2 << 20)}
    assert_problem(clients["editor"].post("/api/v1/schedules", json=big), 413, "body")
    assert snapshot(clients.horae) == before


def test_wrong_content_type_is_415(clients: Clients) -> None:
    before = snapshot(clients.horae)
    response = clients["editor"].post("/api/v1/schedules", content=b"id=s1&task=scan",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415, "Content-Type")
    assert snapshot(clients.horae) == before


def test_malformed_json_is_400(clients: Clients) -> None:
    before = snapshot(clients.horae)
    response = clients["editor"].post("/api/v1/schedules", content=b'{"id": "s1",',
                                      headers={"Content-Type": "application/json"})
    assert_problem(response, 400, "body")
    response = clients["editor"].post("/api/v1/schedules", content=b'[1, 2]',
                                      headers={"Content-Type": "application/json"})
    assert_problem(response, 422, "body")
    assert snapshot(clients.horae) == before


def test_page_size_is_limited(clients: Clients) -> None:
    assert_problem(clients["viewer"].get("/api/v1/schedules?limit=1001"), 422, "limit")
    assert_problem(clients["viewer"].get("/api/v1/runs?limit=0"), 422, "limit")
    assert_problem(clients["viewer"].get("/api/v1/runs?state=nope"), 422, "state")
