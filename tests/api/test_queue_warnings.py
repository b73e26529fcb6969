"""A run or schedule on a queue no live worker serves is made, and the answer says so."""

from __future__ import annotations

from horae.models import WorkerInfo
from tests.api.conftest import Clients

SCHEDULE = {"id": "nightly", "task": "scan", "kwargs": {"targets": ["a"]},
            "trigger": {"kind": "cron", "expr": "0 2 * * *"}}
UNSERVED = {"field": "queue",
            "reason": "no live worker serves queue 'default': its runs wait until a worker "
                      "serving it starts (horae worker -Q default)"}


def _worker(clients: Clients, wid: str, queues: list[str], state: str = "active") -> None:
    clients.horae.store.worker_register(WorkerInfo(wid, "host", 1, queues, 4))
    if state != "active":
        clients.horae.store.worker_set_state(wid, state)


def test_create_and_trigger_warn_when_no_live_worker_serves_the_queue(clients: Clients) -> None:
    editor = clients["editor"]
    _worker(clients, "elsewhere", ["other"])
    _worker(clients, "leaving", ["default"], state="draining")
    created = editor.post("/api/v1/schedules", json=SCHEDULE)
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == [UNSERVED]
    triggered = editor.post("/api/v1/schedules/nightly/trigger")
    assert triggered.status_code == 201, triggered.text
    assert triggered.json()["warnings"] == [UNSERVED]
    run = editor.post("/api/v1/runs", json={"task": "scan", "kwargs": {"targets": ["b"]},
                                            "policies": {"queue": "nobody"}})
    assert run.status_code == 201, run.text
    assert [w["reason"].split(":")[0] for w in run.json()["warnings"]] == [
        "no live worker serves queue 'nobody'"]
    # Nothing refused: the schedule and the runs exist, waiting for a worker.
    assert editor.get("/api/v1/schedules/nightly").status_code == 200
    assert len(editor.get("/api/v1/runs").json()["items"]) == 2


def test_no_warning_when_a_live_worker_serves_the_queue(clients: Clients) -> None:
    editor = clients["editor"]
    _worker(clients, "w1", ["default", "reports"])
    created = editor.post("/api/v1/schedules", json=SCHEDULE)
    assert created.json()["warnings"] == []
    run = editor.post("/api/v1/runs", json={"task": "scan", "kwargs": {"targets": ["b"]}})
    assert run.json()["warnings"] == []
