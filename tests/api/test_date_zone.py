"""A one-off scheduled in a zone is kept and shown in that zone: Python API and REST."""

from __future__ import annotations

from datetime import datetime

from horae.triggers import at
from tests.api.conftest import Clients

# 2030-06-01 09:00 in Shanghai (+08:00, no DST) is 01:00 UTC.
SHANGHAI_9AM = datetime(2030, 6, 1, 9)
UTC_1AM = "2030-06-01T01:00:00.000Z"


def test_python_api_keeps_the_zone_of_a_one_off(clients: Clients) -> None:
    h = clients.horae
    h.schedules.add("once", "scan", at(SHANGHAI_9AM, tz="Asia/Shanghai"),
                    kwargs={"targets": ["a"]})
    stored = h.schedules.get("once")
    assert stored.trigger == {"kind": "date", "at": 1906506000.0, "tz": "Asia/Shanghai"}
    fires = h.schedules.preview("once", 1)
    assert [f.timestamp() for f in fires] == [1906506000.0]


def test_rest_keeps_and_shows_the_zone_of_a_one_off(clients: Clients) -> None:
    editor = clients["editor"]
    created = editor.post("/api/v1/schedules", json={
        "id": "once", "task": "scan", "kwargs": {"targets": ["a"]},
        # A wall time without offset, read in the zone given (as the console's editor sends).
        "trigger": {"kind": "date", "at": "2030-06-01T09:00:00", "tz": "Asia/Shanghai"}})
    assert created.status_code == 201, created.text
    for body in (created.json(), editor.get("/api/v1/schedules/once").json()):
        assert body["trigger"] == {"kind": "date", "at": 1906506000.0, "tz": "Asia/Shanghai"}
        assert body["next_fire_at"] == UTC_1AM
        assert body["trigger_description"] == "Once at 2030-06-01 09:00:00 (Asia/Shanghai)"
    listed = editor.get("/api/v1/schedules").json()["items"]
    assert listed[0]["trigger_description"] == "Once at 2030-06-01 09:00:00 (Asia/Shanghai)"
    preview = editor.get("/api/v1/schedules/once/preview", params={"locale": "zh"}).json()
    assert preview["zone"] == "Asia/Shanghai"
    assert preview["description"] == "在 2030-06-01 09:00:00 (Asia/Shanghai) 执行一次"
    assert preview["fires"] == [{"utc": UTC_1AM, "local": "2030-06-01T09:00:00+08:00"}]


def test_rest_refuses_a_bad_zone_for_a_one_off_and_writes_nothing(clients: Clients) -> None:
    editor = clients["editor"]
    refused = editor.post("/api/v1/schedules", json={
        "id": "once", "task": "scan", "kwargs": {"targets": ["a"]},
        "trigger": {"kind": "date", "at": "2030-06-01T09:00:00", "tz": "Mars/Base"}})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "trigger.tz" in refused.text and "Mars/Base" in refused.text
    assert editor.get("/api/v1/schedules").json()["items"] == []
