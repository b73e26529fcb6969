"""Schedules declared in code (``app.schedules.ensure``, ``@app.periodic``): created when
absent, untouched when the code did not change (a restart writes nothing and keeps
next_fire_at), replaced when it did, an operator's pause surviving either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from horae import Horae, InvalidInput, cron, interval
from horae.store import on_change
from tests.conftest import eventually


def make(url: str, **declarations: dict[str, Any]) -> Horae:
    """A fresh process's app: the task, and one ``@app.periodic`` per keyword."""
    app = Horae(url)

    @app.task("reports.build", queue="reports")
    def build(region: str, rows: int = 1) -> str:
        return region

    for sid, options in declarations.items():
        options = dict(options)
        app.periodic(sid, options.pop("trigger"), **options)(build)
    return app


@pytest.fixture
def url(shared_db_url: str) -> Iterator[str]:
    yield shared_db_url


NIGHTLY = {"trigger": cron("0 2 * * *", tz="Europe/Berlin"), "kwargs": {"region": "eu"}}
POLL = {"trigger": interval(seconds=30), "kwargs": {"region": "us"}}


def writes_during(app: Horae, action: Any) -> list[Any]:
    """What ``action`` committed to schedules (every store write reports to on_change)."""
    seen: list[Any] = []
    with on_change(lambda tx, result: seen.append(result)):
        action()
    return seen


def test_ensure_creates_a_declared_schedule_then_a_restart_writes_nothing(url: str) -> None:
    first = make(url)
    created = writes_during(first, lambda: first.schedules.ensure(
        "poll", "reports.build", interval(seconds=30), kwargs={"region": "us"}, retries=2))
    assert len(created) == 1
    made = first.schedules.get("poll")
    first.stop()
    assert made.declared and made.declared_fingerprint and made.version == 1
    assert made.policies.queue == "reports" and made.policies.retries == 2

    restarted = make(url)
    assert writes_during(restarted, lambda: restarted.schedules.ensure(
        "poll", "reports.build", interval(seconds=30), kwargs={"region": "us"},
        retries=2)) == []
    again = restarted.schedules.get("poll")
    # An interval given without an anchor would start a new phase if written again.
    assert (again.version, again.next_fire_at, again.updated_at, again.trigger) == \
        (1, made.next_fire_at, made.updated_at, made.trigger)
    restarted.stop()


def test_periodic_declarations_sync_when_the_app_starts(url: str) -> None:
    app = make(url, **{"nightly-eu": NIGHTLY, "poll": POLL})
    assert len(app.declarations) == 2
    app.start(worker=False)
    try:
        stored = {s.id: s for s in app.schedules.list()}
        assert set(stored) == {"nightly-eu", "poll"}
        assert all(s.declared and s.version == 1 for s in stored.values())
        assert stored["nightly-eu"].kwargs == {"region": "eu"}
        assert stored["nightly-eu"].trigger == {"kind": "cron", "expr": "0 2 * * *",
                                                "tz": "Europe/Berlin"}
    finally:
        app.stop()
    restarted = make(url, **{"nightly-eu": NIGHTLY, "poll": POLL})
    result = restarted.schedules.sync()
    assert (result.created, result.updated, sorted(result.unchanged)) == \
        ([], [], ["nightly-eu", "poll"])
    assert {s.id: s.next_fire_at for s in restarted.schedules.list()} == \
        {s.id: s.next_fire_at for s in stored.values()}
    restarted.stop()


def test_changed_code_replaces_the_definition_and_keeps_the_pause_and_phase(url: str) -> None:
    app = make(url, poll=POLL)
    app.schedules.sync()
    before = app.schedules.pause("poll")
    app.stop()

    changed = make(url, poll=POLL | {"kwargs": {"region": "apac"}, "priority": 5})
    result = changed.schedules.sync()
    after = changed.schedules.get("poll")
    assert result.updated == ["poll"]
    assert after.kwargs == {"region": "apac"} and after.policies.priority == 5
    assert after.paused, "an operator's pause survives a change of the code"
    assert after.next_fire_at == before.next_fire_at, "the trigger did not change"
    assert after.declared_fingerprint != before.declared_fingerprint
    assert after.version == before.version + 1
    # The same changed code again: nothing more is written.
    assert changed.schedules.sync().unchanged == ["poll"]
    assert changed.schedules.get("poll").version == after.version
    changed.stop()


def test_a_changed_trigger_is_planned_again(url: str) -> None:
    app = make(url, nightly=NIGHTLY)
    app.schedules.sync()
    before = app.schedules.get("nightly")
    app.stop()
    changed = make(url, nightly=NIGHTLY | {"trigger": cron("0 3 * * *", tz="Europe/Berlin")})
    changed.schedules.sync()
    after = changed.schedules.get("nightly")
    assert after.trigger["expr"] == "0 3 * * *"
    assert after.next_fire_at is not None and before.next_fire_at is not None
    assert after.next_fire_at - before.next_fire_at == pytest.approx(3600)
    changed.stop()


def test_an_operator_edit_lasts_until_the_code_changes(url: str) -> None:
    app = make(url, nightly=NIGHTLY)
    app.schedules.sync()
    app.schedules.update("nightly", kwargs={"region": "operator"}, jitter=5)
    app.stop()

    same_code = make(url, nightly=NIGHTLY)
    same_code.schedules.sync()
    kept = same_code.schedules.get("nightly")
    assert (kept.kwargs, kept.policies.jitter) == ({"region": "operator"}, 5)
    same_code.stop()

    new_code = make(url, nightly=NIGHTLY | {"kwargs": {"region": "eu", "rows": 2}})
    new_code.schedules.sync()
    replaced = new_code.schedules.get("nightly")
    # Code wins when the code changes: the whole definition, what it leaves out at default.
    assert (replaced.kwargs, replaced.policies.jitter) == ({"region": "eu", "rows": 2}, 0)
    new_code.stop()


def test_ensure_adopts_a_schedule_made_at_runtime(url: str) -> None:
    app = make(url)
    added = app.schedules.add("nightly", "reports.build", cron("0 2 * * *"),
                              kwargs={"region": "eu"})
    assert not added.declared
    adopted = app.schedules.ensure("nightly", "reports.build", cron("0 2 * * *"),
                                   kwargs={"region": "eu"})
    assert adopted.declared and adopted.declared_fingerprint
    assert adopted.next_fire_at == added.next_fire_at
    assert app.schedules.get("nightly").declared
    app.stop()


def test_prune_removes_only_declared_schedules_no_longer_in_code_and_only_when_asked(
        url: str) -> None:
    app = make(url, nightly=NIGHTLY, poll=POLL)
    app.schedules.sync()
    app.schedules.add("by-hand", "reports.build", interval(minutes=5), kwargs={"region": "x"})
    app.stop()
    fewer = make(url, nightly=NIGHTLY)
    assert fewer.schedules.sync().removed == []
    assert {s.id for s in fewer.schedules.list()} == {"by-hand", "nightly", "poll"}
    assert fewer.schedules.sync(prune=True).removed == ["poll"]
    assert {s.id for s in fewer.schedules.list()} == {"by-hand", "nightly"}
    fewer.stop()


@pytest.mark.parametrize(("options", "field"), [
    ({"kwargs": {"region": 3}}, "kwargs.region"),
    ({"kwargs": {}}, "kwargs"),  # region is missing
    ({"colour": "red"}, "colour"),
    ({"retries": -1}, "retries"),
])
def test_a_bad_declaration_fails_where_it_is_written(options: dict[str, Any],
                                                     field: str) -> None:
    app = Horae("sqlite:///:memory:")

    @app.task("t")
    def task(region: str) -> str:
        return region

    with pytest.raises(InvalidInput) as caught:
        app.periodic("s", cron("0 2 * * *"), **({"kwargs": {"region": "eu"}} | options))(task)
    assert caught.value.field == field
    assert len(app.declarations) == 0


def test_an_id_declared_twice_is_refused() -> None:
    app = Horae("sqlite:///:memory:")
    task = app.task("t")(lambda: None)
    app.periodic("s", cron("0 2 * * *"))(task)
    with pytest.raises(InvalidInput, match="declared twice") as caught:
        app.periodic("s", interval(seconds=5))(task)
    assert caught.value.field == "id"


def test_periodic_on_a_plain_function_registers_it_as_a_task() -> None:
    app = Horae("sqlite:///:memory:")

    @app.periodic("tick", interval(seconds=5))
    def tick() -> None:
        return None

    assert app.registry.get(tick.name) is tick
    assert [d.task for d in app.declarations] == [tick.name]
    app.schedules.sync()
    assert app.schedules.get("tick").declared
    app.stop()


def test_a_declared_one_off_that_fired_is_left_alone_at_the_next_start(url: str) -> None:
    from horae import at

    app = make(url)
    when = at(app.now() + 0.3)
    app.schedules.ensure("once", "reports.build", when, kwargs={"region": "eu"})
    app.start(worker=False)
    try:
        fired = eventually(lambda: (s := app.schedules.get("once")).fires == 1 and s)
    finally:
        app.stop()
    assert fired.next_fire_at is None
    restarted = make(url)
    # Same code: no "never fires from now on" error, nothing written.
    again = restarted.schedules.ensure("once", "reports.build", when, kwargs={"region": "eu"})
    assert (again.version, again.fires) == (fired.version, 1)
    # Changed arguments apply (it stays fired); a changed time in the past is refused.
    changed = restarted.schedules.ensure("once", "reports.build", when,
                                         kwargs={"region": "us"})
    assert (changed.kwargs, changed.next_fire_at) == ({"region": "us"}, None)
    with pytest.raises(InvalidInput) as err:
        restarted.schedules.ensure("once", "reports.build", at(restarted.now() - 60),
                                   kwargs={"region": "us"})
    assert err.value.field == "trigger"
    restarted.stop()
