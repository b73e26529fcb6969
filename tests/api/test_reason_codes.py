"""Refusals carry a stable code beside the English reason, so the console can say them in
Chinese; trigger descriptions follow Accept-Language; every locale tag of horae.locales is
accepted by the preview. On every backend."""

from __future__ import annotations

import re
from typing import Any

import pytest

from horae.console import i18n
from horae.reasons import REASONS, code_of
from tests.api.conftest import Clients
from tests.api.test_validation import BAD_SCHEDULES, GOOD

MORE_BAD: list[tuple[str, dict[str, Any]]] = [
    ("cron out of range", {"trigger": {"kind": "cron", "expr": "0 25 * * *"}}),
    ("cron bad step", {"trigger": {"kind": "cron", "expr": "*/0 * * * *"}}),
    ("cron name", {"trigger": {"kind": "cron", "expr": "0 0 * FOO *"}}),
    ("cron field count", {"trigger": {"kind": "cron", "expr": "0 0 *"}}),
    ("cron backwards", {"trigger": {"kind": "cron", "expr": "0 5-2 * * *"}}),
    ("missing key", {"trigger": {"kind": "cron"}}),
    ("unknown key", {"trigger": {"kind": "interval", "seconds": 5, "colour": 1}}),
    ("id too long", {"id": "x" * 300}),
    ("naive date", {"trigger": {"kind": "date", "at": "2030-01-01T00:00:00"}}),
]


@pytest.mark.parametrize("change", [c[1] for c in BAD_SCHEDULES] + [c[1] for c in MORE_BAD],
                         ids=[c[0] for c in BAD_SCHEDULES] + [c[0] for c in MORE_BAD])
def test_every_refusal_of_a_schedule_has_a_code_and_its_params_rebuild_the_reason(
        clients: Clients, change: dict[str, Any]) -> None:
    response = clients["editor"].post("/api/v1/schedules", json=GOOD | change)
    assert response.status_code == 422, response.text
    for error in response.json()["errors"]:
        assert error.get("code") in REASONS, error
        # The params fill the template back into the very sentence the API wrote.
        assert REASONS[error["code"]].format(**error["params"]) == error["reason"]
        # ... and the Chinese template takes the same params.
        zh = i18n.reasons("zh-CN")[error["code"]]
        assert zh != REASONS[error["code"]]
        assert not re.search(r"\{[a-z_]+\}", zh.format(**error["params"]))


def test_a_not_found_detail_has_a_code(clients: Clients) -> None:
    body = clients["viewer"].get("/api/v1/schedules/nope").json()
    assert body["code"] == "schedule.not_found" and body["params"] == {"id": "'nope'"}


def test_conflicts_the_console_shows_have_codes(clients: Clients) -> None:
    assert clients["editor"].post("/api/v1/schedules", json=GOOD).status_code == 201
    again = clients["editor"].post("/api/v1/schedules", json=GOOD).json()
    assert (again["code"], again["params"]) == ("schedule.exists", {"id": "'s1'"})
    stale = clients["editor"].patch("/api/v1/schedules/s1", json={"paused": True},
                                    headers={"If-Match": '"7"'}).json()
    assert stale["status"] == 412 and stale["code"] == "schedule.lost_update", stale
    run = clients["operator"].post("/api/v1/schedules/s1/trigger").json()
    assert clients["operator"].post(f"/api/v1/runs/{run['id']}/cancel").status_code == 200
    finished = clients["operator"].post(f"/api/v1/runs/{run['id']}/cancel").json()
    assert finished["code"] == "run.finished"
    assert finished["params"] == {"id": str(run["id"]), "state": "cancelled"}
    assert i18n.reasons("zh-CN")["run.finished"] == "运行 {id} 已结束（{state}）"


def test_templates_are_tried_specific_first() -> None:
    assert code_of("minute field 'x': 'x' is not a number 0-59")[0] == "cron.not_a_number"  # type: ignore[index]
    assert code_of("month field 'FOO': 'FOO' is not a number 1-12 or a name like JAN") == (
        "cron.not_a_value", {"part": "month", "text": "'FOO'", "token": "'FOO'",
                             "low": "1", "high": "12", "name": "JAN"})
    assert code_of("Additional properties are not allowed ('colour' was unexpected) (task "
                   "'scan')") == ("args.extra", {"names": "'colour'", "task": "'scan'"})
    assert code_of("something nobody wrote a template for") is None


@pytest.mark.parametrize(("error", "code"), [
    ("cancelled while running", "run.cancelled_running"),
    ("cancelled before it started", "run.cancelled_before"),
    ("cancelled (drain) before it started", "run.cancelled_by_worker"),
    ("lease expired: worker w-1 stopped renewing it", "run.lease_expired"),
    ("timed out after 0.5s", "run.timed_out"),
    ("child process killed (cancel) before reporting a result", "run.child_killed"),
    ("no live worker serves queue 'x'", "run.no_worker"),
    ("overlap=skip: 1 earlier run of this schedule still running (the oldest created 4 s "
     "ago)", "skip.blocked_one_oldest"),
    ("overlap=skip: a later fire was due in the same pass (3 s ago) and only the newest one "
     "runs", "skip.newer"),
    ("12.0 s late, beyond misfire_grace=60 s (catchup=none)", "miss.policy"),
])
def test_the_errors_horae_writes_on_runs_have_codes(error: str, code: str) -> None:
    found = code_of(error)
    assert found is not None and found[0] == code, found
    assert REASONS[code].format(**found[1]) == error


def test_skip_and_miss_reasons_of_the_planner_have_codes() -> None:
    """The planner's own sentences (horae.policies), not copies of them."""
    from horae.models import Catchup, Policies
    from horae.policies import missed_reason

    for catchup in Catchup:
        reason = missed_reason(100.0, 200.0, Policies(catchup=catchup), [150.0])
        assert code_of(reason) is not None, reason


def test_trigger_descriptions_follow_accept_language(clients: Clients) -> None:
    created = clients["editor"].post("/api/v1/schedules", json=GOOD | {
        "trigger": {"kind": "interval", "seconds": 10}})
    assert created.status_code == 201, created.text
    english = clients["viewer"].get("/api/v1/schedules").json()["items"][0]
    assert english["trigger_description"].startswith("Every 10 seconds")
    for tag in ("zh-CN", "zh", "zh-Hans", "zh-CN,zh;q=0.9,en;q=0.8"):
        headers = {"Accept-Language": tag}
        listed = clients["viewer"].get("/api/v1/schedules", headers=headers).json()
        one = clients["viewer"].get("/api/v1/schedules/s1", headers=headers).json()
        for item in (listed["items"][0], one):
            assert item["trigger_description"].startswith("每 10 秒"), (tag, item)
    assert clients["viewer"].get("/api/v1/schedules/s1", headers={
        "Accept-Language": "en-US"}).json()["trigger_description"] == english[
        "trigger_description"]


@pytest.mark.parametrize(("tag", "chinese"), [("zh-CN", True), ("zh", True), ("zh-Hans", True),
                                               ("zh_CN", True), ("en", False),
                                               ("en-US", False)])
def test_the_preview_takes_every_locale_tag(clients: Clients, tag: str, chinese: bool) -> None:
    assert clients["editor"].post("/api/v1/schedules", json=GOOD).status_code == 201
    response = clients["viewer"].get("/api/v1/schedules/s1/preview", params={"locale": tag})
    assert response.status_code == 200, response.text
    description = response.json()["description"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in description) is chinese, description


def test_an_unknown_locale_is_refused_naming_the_field(clients: Clients) -> None:
    assert clients["editor"].post("/api/v1/schedules", json=GOOD).status_code == 201
    response = clients["viewer"].get("/api/v1/schedules/s1/preview", params={"locale": "fr"})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "locale" and error["code"] == "value.one_of"
