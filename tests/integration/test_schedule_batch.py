"""``app.schedules.batch`` and ``add_many``: validated like the single calls, written in
one transaction, atomic or per item, with one change notice; and the async facade."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from horae import Conflict, Horae, InvalidInput
from horae.aio import AsyncHorae
from horae.schedule_batch import InvalidBatch
from horae.store import on_change
from horae.store.schedule_batch import SchedulesChanged


@pytest.fixture
def app(database_url: str) -> Horae:
    app = Horae(database_url)

    @app.task("scan")
    def scan(targets: list[str], port: int = 80) -> None:
        return None

    return app


def item(sid: str, **fields: Any) -> dict[str, Any]:
    return {"id": sid, "task": "scan", "trigger": {"kind": "interval", "seconds": 60},
            "kwargs": {"targets": ["a"]}} | fields


def test_add_many_creates_every_item_with_the_single_add_defaults(app: Horae) -> None:
    made = app.schedules.add_many([item(f"s{i}", retries=i % 10) for i in range(2500)])
    assert [s.id for s in made] == [f"s{i}" for i in range(2500)]
    assert app.store.schedule_count() == 2500
    single = app.schedules.add("single", "scan", {"kind": "interval", "seconds": 60},
                               kwargs={"targets": ["a"]}, retries=7)
    got = app.schedules.get("s7")
    assert got == made[7]
    assert (got.version, got.task, got.kwargs, got.policies.retries) == (1, "scan",
                                                                         {"targets": ["a"]}, 7)
    assert got.policies.queue == single.policies.queue
    assert got.next_fire_at is not None and got.trigger["anchor"] == got.next_fire_at


@pytest.mark.parametrize(("bad", "field"), [
    ({"trigger": {"kind": "cron", "expr": "61 * * * *"}}, "items[3].trigger.expr"),
    ({"kwargs": {"targets": "x"}}, "items[3].kwargs.targets"),
    ({"task": "nope"}, "items[3].task"),
    ({"retries": -1}, "items[3].retries"),
    ({"id": "bad id!"}, "items[3].id"),
    ({"id": "s0"}, "items[3].id"),  # twice in one batch
    ({"colour": "red"}, "items[3].colour"),
])
def test_atomic_add_many_names_the_bad_item_and_writes_nothing(app: Horae, bad: dict[str, Any],
                                                               field: str) -> None:
    items = [item(f"s{i}") for i in range(5)]
    items[3] = items[3] | bad
    with pytest.raises(InvalidInput) as err:
        app.schedules.add_many(items)
    assert err.value.field == field, err.value
    assert app.store.schedule_count() == 0


def test_atomic_add_many_over_an_existing_id_is_a_conflict_and_writes_nothing(
        app: Horae) -> None:
    app.schedules.add_many([item("taken")])
    with pytest.raises(Conflict, match=r"items\[1\]"):
        app.schedules.add_many([item("new"), item("taken")])
    assert [s.id for s in app.schedules.list()] == ["taken"]


def test_a_batch_that_is_not_atomic_reports_each_item(app: Horae) -> None:
    app.schedules.add_many([item("keep"), item("old"), item("same")])
    results = app.schedules.batch([
        {"op": "add", **item("new")},
        {"op": "add", **item("keep")},
        {"op": "update", "id": "keep", "description": "changed"},
        {"op": "update", "id": "ghost", "description": "x"},
        {"op": "remove", "id": "old"},
        {"op": "upsert", **item("same")},
        {"op": "upsert", **item("fresh", trigger={"kind": "cron", "expr": "0 3 * * *"})},
        {"op": "add", **item("broken", trigger={"kind": "cron", "expr": "nope"})},
        {"op": "remove", "id": "same", "expected_version": 9},
        {"op": "frobnicate", "id": "x"},
        "not an object",
    ])
    assert [(r.index, r.status, r.error, r.field) for r in results] == [
        (0, "created", None, None),
        (1, "failed", "invalid", "id"),  # keep appears twice: its second op is refused
        (2, "failed", "invalid", "id"),
        (3, "failed", "not_found", "id"),
        (4, "removed", None, None),
        (5, "unchanged", None, None),
        (6, "created", None, None),
        (7, "failed", "invalid", "trigger.expr"),
        (8, "failed", "invalid", "id"),
        (9, "failed", "invalid", "op"),
        (10, "failed", "invalid", "item"),
    ] or results
    assert {s.id for s in app.schedules.list()} == {"keep", "new", "same", "fresh"}
    assert app.schedules.get("same").version == 1  # unchanged: not written


def test_updates_and_upserts_change_only_what_differs(app: Horae) -> None:
    app.schedules.add_many([item("a"), item("b", retries=3), item("c", paused=True)])
    before = {s.id: s for s in app.schedules.list()}
    results = app.schedules.batch([
        {"op": "update", "id": "a", "description": "now described"},
        {"op": "upsert", **item("b")},  # retries back to the task's default
        {"op": "upsert", **item("c", trigger={"kind": "interval", "seconds": 120})},
    ], atomic=True)
    assert [r.status for r in results] == ["updated", "updated", "updated"]
    a, b, c = (app.schedules.get(x) for x in "abc")
    assert (a.description, a.version, a.next_fire_at) == ("now described", 2,
                                                         before["a"].next_fire_at)
    assert (b.policies.retries, b.next_fire_at) == (0, before["b"].next_fire_at)
    assert not c.paused and c.trigger["seconds"] == 120
    assert c.next_fire_at != before["c"].next_fire_at
    assert results[0].schedule == a
    again = app.schedules.batch([{"op": "upsert", **item("b")},
                                 {"op": "upsert", **item("c", trigger={"kind": "interval",
                                                                       "seconds": 120})}])
    assert [r.status for r in again] == ["unchanged", "unchanged"]


def test_a_stale_expected_version_fails_alone_or_everything_when_atomic(app: Horae) -> None:
    app.schedules.add_many([item("a"), item("b")])
    app.schedules.update("a", description="moved on")
    ops = [{"op": "update", "id": "a", "expected_version": 1, "description": "lost"},
           {"op": "update", "id": "b", "expected_version": 1, "description": "kept"}]
    with pytest.raises(Conflict, match=r"operations\[0\]"):
        app.schedules.batch(ops, atomic=True)
    assert app.schedules.get("b").version == 1
    results = app.schedules.batch(ops)
    assert [(r.status, r.error) for r in results] == [("failed", "conflict"), ("updated", None)]
    assert app.schedules.get("a").description == "moved on"


def test_atomic_batches_list_every_invalid_item(app: Horae) -> None:
    with pytest.raises(InvalidBatch) as err:
        app.schedules.batch([{"op": "add", **item("a", retries="x")},
                             {"op": "add", **item("b")},
                             {"op": "add", **item("c", tags="one")}], atomic=True)
    assert [f for f, _ in err.value.errors] == ["operations[0].retries", "operations[2].tags"]


def test_a_dry_run_reports_what_would_change_and_writes_nothing(app: Horae) -> None:
    app.schedules.add_many([item("a"), item("b")])
    results = app.schedules.batch([{"op": "add", **item("new")},
                                   {"op": "update", "id": "a", "paused": True},
                                   {"op": "remove", "id": "b"},
                                   {"op": "upsert", **item("a")}], dry_run=True)
    assert [r.status for r in results] == ["created", "updated", "removed", "failed"]
    assert results[1].schedule is not None and results[1].schedule.paused
    assert {s.id: s.version for s in app.schedules.list()} == {"a": 1, "b": 1}


def test_one_change_notice_and_one_hook_call_per_batch(app: Horae) -> None:
    app.store  # noqa: B018 - migrated
    seen: list[Any] = []
    woken: list[int] = []
    app.store.db.subscribe("horae_schedules", lambda: woken.append(1))
    with on_change(lambda tx, result: seen.append(result)):
        app.schedules.batch([{"op": "add", **item(f"s{i}")} for i in range(30)]
                            + [{"op": "remove", "id": "s0"}, {"op": "remove", "id": "zz"}])
    assert len(woken) == 1
    assert len(seen) == 1 and isinstance(seen[0], SchedulesChanged)
    assert len(seen[0].changes) == 30  # s0 appears twice: its remove was refused


def test_the_async_facade_has_batch_and_add_many(app: Horae) -> None:
    ah = AsyncHorae(app)

    async def go() -> None:
        made = await ah.schedules.add_many([item("x"), item("y")])
        assert [s.id for s in made] == ["x", "y"]
        results = await ah.schedules.batch([{"op": "remove", "id": "x"}])
        assert results[0].status == "removed"

    asyncio.run(go())
    assert [s.id for s in app.schedules.list()] == ["y"]
