"""Guarantee 5 through the Python API: bad input names the field and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from horae import Horae, InvalidInput, cron, interval
from horae.triggers import at


@pytest.fixture
def app(database_url: str) -> Horae:
    app = Horae(database_url)

    @app.task("scan")
    def scan(targets: list[str], ports: int = 80) -> None:
        return None

    return app


GOOD: dict[str, Any] = {"task": "scan", "kwargs": {"targets": ["a"]}}
CASES = [
    ({"trigger": {"kind": "cron", "expr": "61 * * * *"}}, "trigger.expr"),
    ({"trigger": {"kind": "cron", "expr": "0 0 30 2 *"}}, "trigger.expr"),
    ({"trigger": {"kind": "cron", "expr": "0 2 * * *", "tz": "Mars/Olympus"}}, "trigger.tz"),
    ({"trigger": {"kind": "interval", "seconds": 0}}, "trigger.seconds"),
    ({"trigger": {"kind": "interval", "seconds": -5}}, "trigger.seconds"),
    ({"trigger": {"kind": "nope"}}, "trigger.kind"),
    ({"task": "no.such.task"}, "task"),
    ({"kwargs": {"targets": "not-a-list"}}, "kwargs.targets"),
    ({"kwargs": {"targets": ["a"], "colour": "red"}}, "kwargs"),
    ({"kwargs": {}}, "kwargs"),
    ({"kwargs": {"targets": [object()]}}, "kwargs"),
    ({"kwargs": {"targets": [float("nan")]}}, "kwargs"),
    ({"start_at": 2_000_000_000, "end_at": 1_900_000_000}, "end_at"),
    ({"overlap": "sometimes"}, "overlap"),
    ({"catchup": "most"}, "catchup"),
    ({"retries": -1}, "retries"),
    ({"timeout": 0}, "timeout"),
    ({"misfire_grace": -1}, "misfire_grace"),
    ({"max_fires": 0}, "max_fires"),
    ({"queue": "has space"}, "queue"),
    ({"colour": "red"}, "colour"),
    ({"id": "bad id!"}, "id"),
    ({"trigger": at(1_000_000_000.0)}, "trigger"),
]


@pytest.mark.parametrize(("change", "field"), CASES,
                         ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_bad_schedule_is_refused_and_nothing_is_written(app: Horae, change: dict[str, Any],
                                                        field: str) -> None:
    args = {"id": "s1", "trigger": interval(seconds=60)} | GOOD | change
    sid = args.pop("id")
    with pytest.raises(InvalidInput) as err:
        app.schedules.add(sid, **args)
    assert err.value.field.startswith(field), (err.value.field, err.value.reason)
    assert err.value.reason
    assert app.store.schedule_count() == 0
    app.stop()


def test_bad_update_changes_nothing(app: Horae) -> None:
    s = app.schedules.add("s1", "scan", cron("0 2 * * *"), kwargs={"targets": ["a"]})
    for change in ({"trigger": {"kind": "cron", "expr": "0 0 31 4 *"}},
                   {"kwargs": {"targets": 5}}, {"task": "ghost"}, {"jitter": -1},
                   {"paused": True, "retries": "many"}):
        with pytest.raises(InvalidInput):
            app.schedules.update("s1", **change)
    assert app.schedules.get("s1") == s
    app.stop()


def test_bad_ad_hoc_run_writes_nothing(app: Horae) -> None:
    for kwargs in ({"kwargs": {"targets": 1}}, {"kwargs": {"targets": []}, "at": "tomorrow"},
                   {"kwargs": {"targets": []}, "delay": -1}):
        with pytest.raises(InvalidInput):
            app.runs.create("scan", **kwargs)
    with pytest.raises(InvalidInput):
        app.runs.create("ghost")
    assert app.runs.list() == []
    app.stop()


def test_update_keeps_a_concurrent_edit_of_another_field(app: Horae,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app.schedules.add("s1", "scan", cron("0 2 * * *"), kwargs={"targets": ["a"]})
    real_get = app.store.schedule_get
    raced: list[bool] = []

    def get_then_race(sid: str):  # another writer commits between our read and our write
        current = real_get(sid)
        if not raced:
            raced.append(True)
            app.schedules.update(sid, description="edited elsewhere")
        return current

    monkeypatch.setattr(app.store, "schedule_get", get_then_race)
    app.schedules.update("s1", kwargs={"targets": ["b"]})
    final = real_get("s1")
    assert final.description == "edited elsewhere"
    assert final.kwargs == {"targets": ["b"]}
    app.stop()


def test_an_edit_does_not_rewind_what_the_scheduler_advanced(app: Horae) -> None:
    s = app.schedules.add("s1", "scan", interval(seconds=60), kwargs={"targets": ["a"]})
    with app.store.db.write() as tx:  # as if a scheduler fired it meanwhile
        tx.run("UPDATE horae_schedules SET next_fire_at = next_fire_at + 60 WHERE id = 's1'")
    edited = app.schedules.update("s1", description="x")
    assert edited.next_fire_at == s.next_fire_at + 60
    app.stop()


@pytest.mark.parametrize("field", ["start_at", "end_at"])
def test_instants_outside_the_calendar_are_refused(app: Horae, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        app.schedules.add("s1", "scan", interval(seconds=60), kwargs={"targets": ["a"]},
                          **{field: 1e308})
    assert err.value.field == field
    assert app.store.schedule_count() == 0
    app.stop()
