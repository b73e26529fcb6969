"""POST /schedules/{id}/trigger takes optional args/kwargs for that run only, checked
against the task's schema; without a body it runs the schedule as it is."""

from __future__ import annotations

from horae import cron
from tests.api.conftest import Clients


def _runs(clients: Clients) -> list[dict[str, object]]:
    return [r.to_dict() for r in clients.horae.runs.list(schedule_id="s")]


def test_trigger_with_and_without_arguments(clients: Clients) -> None:
    clients.horae.schedules.add("s", "scan", cron("0 2 * * *"), kwargs={"targets": ["a"]})
    operator = clients["operator"]
    plain = operator.post("/api/v1/schedules/s/trigger")
    assert plain.status_code == 201, plain.text
    assert plain.json()["kwargs"] == {"targets": ["a"]}
    empty = operator.post("/api/v1/schedules/s/trigger", json={})
    assert empty.status_code == 201 and empty.json()["kwargs"] == {"targets": ["a"]}
    other = operator.post("/api/v1/schedules/s/trigger",
                          json={"kwargs": {"targets": ["b"], "port": 22}})
    assert other.status_code == 201, other.text
    assert (other.json()["kwargs"], other.json()["origin"]) == \
        ({"targets": ["b"], "port": 22}, "manual")
    assert clients.horae.schedules.get("s").kwargs == {"targets": ["a"]}
    audited = [a for a in clients.store.audit_list() if a.action == "schedule.trigger"]
    assert len(audited) == 3


def test_bad_arguments_are_named_and_queue_nothing(clients: Clients) -> None:
    clients.horae.schedules.add("s", "scan", cron("0 2 * * *"), kwargs={"targets": ["a"]})
    operator = clients["operator"]
    for body, field in (({"kwargs": {"targets": "a"}}, "kwargs.targets"),
                        ({"kwargs": {"port": 1}}, "kwargs"),
                        ({"kwargs": []}, "kwargs"),
                        ({"colour": 1}, "colour")):
        answer = operator.post("/api/v1/schedules/s/trigger", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert any(e["field"] == field for e in answer.json()["errors"]), (body, answer.text)
    assert _runs(clients) == []
    assert clients["viewer"].post("/api/v1/schedules/s/trigger",
                                  json={"kwargs": {"targets": ["b"]}}).status_code == 403
