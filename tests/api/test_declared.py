"""Schedules declared in code are marked in the API's JSON, and the API cannot mark one."""

from __future__ import annotations

from horae import cron
from tests.api.conftest import Clients


def test_declared_schedules_are_marked_in_get_and_list(clients: Clients) -> None:
    clients.horae.schedules.ensure("from-code", "scan", cron("0 2 * * *"),
                                   kwargs={"targets": ["a"]})
    clients.horae.schedules.add("by-hand", "scan", cron("0 3 * * *"),
                                kwargs={"targets": ["a"]})
    viewer = clients["viewer"]
    one = viewer.get("/api/v1/schedules/from-code").json()
    assert one["declared"] is True
    assert one["declared_fingerprint"].startswith("v1:")
    listed = {s["id"]: s["declared"] for s in viewer.get("/api/v1/schedules").json()["items"]}
    assert listed == {"by-hand": False, "from-code": True}


def test_the_api_cannot_declare_a_schedule(clients: Clients) -> None:
    body = {"id": "sneaky", "task": "scan", "trigger": {"kind": "cron", "expr": "0 2 * * *"},
            "kwargs": {"targets": ["a"]}, "declared": True}
    answer = clients["editor"].post("/api/v1/schedules", json=body)
    assert answer.status_code == 422
    assert "declared" in answer.text
    assert clients.horae.schedules.list() == []


def test_an_edit_through_the_api_keeps_the_mark(clients: Clients) -> None:
    clients.horae.schedules.ensure("from-code", "scan", cron("0 2 * * *"),
                                   kwargs={"targets": ["a"]})
    editor = clients["editor"]
    changed = editor.patch("/api/v1/schedules/from-code", json={"kwargs": {"targets": ["b"]}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["declared"] is True
    # The code did not change: declaring it again leaves the operator's edit alone.
    again = clients.horae.schedules.ensure("from-code", "scan", cron("0 2 * * *"),
                                           kwargs={"targets": ["a"]})
    assert again.kwargs == {"targets": ["b"]}
