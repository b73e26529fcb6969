"""Broadcast (one child per live worker) and sharding (N children with indices)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from horae import Context, Horae, RunState, interval
from tests.conftest import eventually


def make_app(url: str) -> Horae:
    app = Horae(url)

    @app.task("where")
    def where(ctx: Context) -> dict[str, object]:
        return {"worker": ctx.worker_id, "index": ctx.shard_index, "total": ctx.shard_total}

    @app.task("fails_on_two")
    def fails_on_two(ctx: Context) -> int:
        if ctx.shard_index == 2:
            raise RuntimeError("shard two is broken")
        return ctx.shard_index or 0

    @app.task("slow", mode="async")
    async def slow() -> None:
        await asyncio.sleep(120)  # a long task; cancellation interrupts it

    return app


@pytest.fixture
def app(database_url: str) -> Iterator[Horae]:
    app = make_app(database_url)
    app.start(concurrency=4)
    yield app
    app.stop(grace=1)


def children(app: Horae, parent_id: int) -> list:
    with app.store.db.read() as tx:
        ids = [r["id"] for r in tx.all("SELECT id FROM horae_runs WHERE parent_id = :p"
                                       " ORDER BY shard_index", {"p": parent_id})]
    return [app.runs.get(i) for i in ids]


def test_shard_into_four(app: Horae) -> None:
    parent = app.runs.create("where", fanout="shard", shards=4)
    done = app.runs.wait(parent.id, timeout=30)
    assert done.state is RunState.SUCCEEDED
    assert [r["index"] for r in done.result] == [0, 1, 2, 3]
    assert {r["total"] for r in done.result} == {4}
    kids = children(app, parent.id)
    assert [k.shard_index for k in kids] == [0, 1, 2, 3]
    assert all(k.state is RunState.SUCCEEDED and k.parent_id == parent.id for k in kids)
    assert done.progress == 1.0


def test_a_failed_shard_fails_the_parent_with_a_summary(app: Horae) -> None:
    parent = app.runs.create("fails_on_two", fanout="shard", shards=4)
    done = app.runs.wait(parent.id, timeout=30)
    assert done.state is RunState.FAILED
    assert "1 of 4 children did not succeed; child 2: failed" in (done.error or "")


def test_cancelling_the_parent_cancels_its_children(app: Horae) -> None:
    parent = app.runs.create("slow", fanout="shard", shards=3)
    eventually(lambda: len(children(app, parent.id)) == 3
               and any(k.state is RunState.RUNNING for k in children(app, parent.id)))
    app.runs.cancel(parent.id)
    done = app.runs.wait(parent.id, timeout=30)
    assert done.state is RunState.CANCELLED
    assert {k.state for k in children(app, parent.id)} == {RunState.CANCELLED}


def test_broadcast_with_no_live_worker_fails_visibly(database_url: str) -> None:
    app = make_app(database_url)
    app.start(worker=False)
    parent = app.runs.create("where", fanout="broadcast", queue="nobody")
    done = app.runs.wait(parent.id, timeout=30)
    assert done.state is RunState.FAILED
    assert "no live worker serves queue 'nobody'" in (done.error or "")
    app.stop()


def test_broadcast_reaches_each_worker_once(database_url: str) -> None:
    if "memory" in database_url:
        pytest.skip("three workers need a shared database")
    apps = [make_app(database_url) for _ in range(3)]
    apps[0].start(concurrency=2)
    for other in apps[1:]:
        other.start(scheduler=False, concurrency=2)
    try:
        parent = apps[0].runs.create("where", fanout="broadcast")
        done = apps[0].runs.wait(parent.id, timeout=30)
        assert done.state is RunState.SUCCEEDED
        ran_on = sorted(r["worker"] for r in done.result)
        assert ran_on == sorted(a.worker.id for a in apps)
        assert all(k.worker_id == k.target_worker for k in children(apps[0], parent.id))
    finally:
        for a in apps:
            a.stop(grace=1)


def test_a_schedule_can_fan_out(app: Horae) -> None:
    app.schedules.add("sharded", "where", interval(seconds=0.3), fanout="shard", shards=2)
    parent = eventually(lambda: next((r for r in app.runs.list(schedule_id="sharded")
                                      if r.state is RunState.SUCCEEDED), None))
    assert parent.fanout == "shard" and len(parent.result) == 2
    assert eventually(lambda: app.schedules.get("sharded").successes >= 1)
