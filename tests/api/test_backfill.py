"""/schedules/{id}/backfills: the plan first (dry_run), then the backfill, its list and
cancel; roles, audit, and 422 naming the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from horae import cron
from tests.api.conftest import Clients
from tests.api.test_validation import assert_problem

URL = "/api/v1/schedules/minutely/backfills"


def setup(clients: Clients) -> float:
    clients.horae.schedules.add("minutely", "scan", cron("* * * * *"), kwargs={"targets": []})
    return math.floor(clients.horae.store.now() / 60) * 60 - 3600


def test_dry_run_answers_the_plan_and_writes_nothing(clients: Clients) -> None:
    first = setup(clients)
    body = {"from": first, "to": first + 300, "dry_run": True}
    response = clients["viewer"].post(URL, json=body)
    assert response.status_code == 403  # a viewer may not even plan a change
    response = clients["editor"].post(URL, json=body)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["total"], plan["already_run"], plan["to_create"]) == (5, 0, 5)
    assert [f["markers"] for f in plan["fires"]] == [[]] * 5
    assert plan["fires"][0]["fire_time"].endswith("Z")
    assert clients["viewer"].get(URL).json() == {"items": []}
    assert clients.horae.runs.list(schedule_id="minutely") == []


def test_a_backfill_is_created_listed_audited_and_cancelled(clients: Clients) -> None:
    first = setup(clients)
    response = clients["editor"].post(URL, json={"from": first, "to": first + 600,
                                                 "concurrency": 2})
    assert response.status_code == 201, response.text
    b = response.json()
    assert (b["state"], b["total"], b["concurrency"]) == ("running", 10, 2)
    [listed] = clients["viewer"].get(URL).json()["items"]
    assert listed == b

    cancel = f"{URL}/{b['id']}/cancel"
    assert clients["viewer"].post(cancel).status_code == 403
    response = clients["operator"].post(cancel)  # as an operator may cancel runs
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    again = clients["editor"].post(cancel)
    assert again.status_code == 409 and "already ended" in again.json()["detail"]
    assert clients["editor"].post(f"{URL}/999999/cancel").status_code == 404

    audit = clients["viewer"].get("/api/v1/audit").json()["items"]
    assert [a["action"] for a in audit[:2]] == ["schedule.backfill_cancel", "schedule.backfill"]
    assert b["created_by"] == audit[1]["actor"]  # the editor's token, as the audit names it


@pytest.mark.parametrize(("body", "field"), [
    ({"from": "yesterday", "to": 0}, "from"),
    ({"from": 0, "to": "2999-01-01T00:00:00Z"}, "to"),
    ({"from": 600, "to": 60}, "to"),
    ({"from": 0, "to": 60, "concurrency": 0}, "concurrency"),
    ({"to": 60}, "from"),
    ({"from": 0, "to": 60, "colour": "red"}, "colour"),
])
def test_bad_input_is_422_naming_the_field(clients: Clients, body: dict[str, Any],
                                           field: str) -> None:
    setup(clients)
    assert_problem(clients["editor"].post(URL, json=body), 422, field)
    assert clients.horae.store.backfill_list("minutely") == []


def test_too_many_fires_are_refused_naming_to(clients: Clients) -> None:
    first = setup(clients)
    response = clients["editor"].post(URL, json={"from": first - 100 * 86400, "to": first,
                                                 "dry_run": True})
    body = assert_problem(response, 422, "to")
    assert "100,000" in body["errors"][0]["reason"]


def test_an_unknown_schedule_is_404(clients: Clients) -> None:
    response = clients["editor"].post("/api/v1/schedules/nope/backfills",
                                      json={"from": 0, "to": 60})
    assert response.status_code == 404
    assert clients["viewer"].get("/api/v1/schedules/nope/backfills").status_code == 404


def test_every_refusal_has_a_code_the_console_translates(clients: Clients) -> None:
    import re

    from horae.console import i18n
    from horae.reasons import REASONS

    first = setup(clients)
    refusals = [
        clients["editor"].post(URL, json={"from": first, "to": first - 60}),
        clients["editor"].post(URL, json={"from": first, "to": "2999-01-01T00:00:00Z"}),
        clients["editor"].post(URL, json={"from": first - 100 * 86400, "to": first}),
    ]
    made = clients["editor"].post(URL, json={"from": first, "to": first + 60}).json()
    clients["operator"].post(f"{URL}/{made['id']}/cancel")
    ended = clients["operator"].post(f"{URL}/{made['id']}/cancel").json()
    missing = clients["operator"].post(f"{URL}/999999/cancel").json()
    assert (ended["code"], missing["code"]) == ("backfill.ended", "backfill.not_found")
    errors = [e for r in refusals for e in r.json()["errors"]]
    assert [e["code"] for e in errors] == ["backfill.to_before_from", "backfill.future",
                                           "backfill.too_many"]
    for error in [*errors, ended, missing]:
        said = error["reason"] if "reason" in error else error["detail"]
        assert REASONS[error["code"]].format(**error["params"]) == said
        zh = i18n.reasons("zh-CN")[error["code"]]
        assert zh != REASONS[error["code"]]
        assert not re.search(r"\{[a-z_]+\}", zh.format(**error["params"]))
