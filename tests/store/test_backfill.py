"""Backfills (store/backfill_queries.py) on every backend: queued a few at a time up to the
concurrency bound, never duplicating a fire, idempotent when run twice, cancellable."""

from __future__ import annotations

import math

from horae.backfill import Backfill, Window, plan
from horae.models import RunState
from horae.store import Store
from horae.triggers import cron
from tests.store.support import add_due, planner, runs_of, schedule

EVERY_MINUTE = cron("* * * * *")


def next_fires(window: str, cursor: float, end: float, n: int) -> tuple[list[float], float | None]:
    """The scheduler's callback, without its cache."""
    return Window.loads(window).next_batch(cursor, end, n)


def hour_ago(store: Store) -> float:
    return math.floor(store.now() / 60) * 60 - 3600


def start(store: Store, sid: str, first: float, minutes: int, concurrency: int = 1) -> Backfill:
    """A backfill of ``minutes`` one-minute fires from ``first``, as app.schedules makes it."""
    window = Window(EVERY_MINUTE)
    p = plan(sid, window, first, first + 60 * minutes)
    return store.backfill_add(sid, first, first + 60 * minutes, concurrency=concurrency,
                              total=p.total, cursor=p.fires[0].fire_time if p.fires else None,
                              window=window.dumps(), created_by="test")


def add_schedule(store: Store, sid: str = "s") -> None:
    store.schedule_add(schedule(sid, trigger=EVERY_MINUTE.to_dict(),
                                next_fire_at=store.now() + 3600))


def active(store: Store, sid: str) -> list[int]:
    return [r.id for r in runs_of(store, sid)
            if r.state in (RunState.QUEUED, RunState.RUNNING)]


def drain(store: Store, b: Backfill, per_round: int = 100) -> Backfill:
    """Top up, claim and succeed until the backfill ends; checks the bound every round."""
    for _ in range(1000):
        store.backfills_top_up(next_fires)
        assert len(active(store, b.schedule_id)) <= b.concurrency
        claimed = store.runs_claim("w", ["default"], per_round, 30)
        for run in claimed:
            assert store.run_finish(run, "w", RunState.SUCCEEDED)
        now = store.backfill_get(b.id)
        if now.state != "running":
            return now
    raise AssertionError("the backfill never ended")


def test_top_up_queues_up_to_the_concurrency_bound_in_fire_order(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    b = start(store, "s", first, 10, concurrency=3)
    assert (b.state, b.total, b.cursor) == ("running", 10, first)

    assert store.backfills_top_up(next_fires) == 3
    assert store.backfills_top_up(next_fires) == 0  # full: nothing more
    runs = runs_of(store, "s")
    assert [r.fire_time for r in runs] == [first, first + 60, first + 120]
    assert {r.origin for r in runs} == {"backfill"}
    assert {r.state for r in runs} == {RunState.QUEUED}
    assert store.backfill_get(b.id).cursor == first + 180

    [claimed, *_] = store.runs_claim("w", ["default"], 1, 30)
    assert store.backfills_top_up(next_fires) == 0  # running still counts as active
    assert store.run_finish(claimed, "w", RunState.SUCCEEDED)
    assert store.backfills_top_up(next_fires) == 1
    assert len(active(store, "s")) == 3


def test_a_backfill_runs_every_fire_once_then_is_done(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    b = drain(store, start(store, "s", first, 12, concurrency=2))
    assert (b.state, b.created, b.skipped_existing, b.cursor) == ("done", 12, 0, None)
    assert b.finished_at is not None
    fires = [r.fire_time for r in runs_of(store, "s")]
    assert fires == [first + 60 * i for i in range(12)]


def test_a_backfill_run_twice_creates_nothing_the_second_time(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    drain(store, start(store, "s", first, 8))
    again = drain(store, start(store, "s", first, 8, concurrency=4))
    assert (again.state, again.created, again.skipped_existing) == ("done", 0, 8)
    assert len(runs_of(store, "s")) == 8


def test_fires_that_already_have_a_run_are_skipped_and_counted(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    drain(store, start(store, "s", first + 120, 3))  # minutes 2, 3 and 4 already ran
    assert store.backfill_existing("s", first, first + 600) == {first + 120, first + 180,
                                                                first + 240}
    b = drain(store, start(store, "s", first, 10, concurrency=2))
    assert (b.created, b.skipped_existing, b.total) == (7, 3, 10)
    fires = [r.fire_time for r in runs_of(store, "s")]
    assert sorted(fires) == [first + 60 * i for i in range(10)]
    assert len(set(fires)) == len(fires)


def test_a_long_stretch_of_existing_fires_never_stalls_the_backfill(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store) - 86400
    with store.db.write() as tx:  # 6,000 fires that already ran (more than one pass skips)
        store.db.insert_many(tx, "horae_runs", [
            {"task": "job", "state": "succeeded", "schedule_id": "s",
             "fire_time": first + 60 * i, "origin": "schedule", "args": "[]", "kwargs": "{}",
             "queue": "default", "not_before": first, "created_at": first,
             "finished_at": first} for i in range(6000)])
    b = drain(store, start(store, "s", first, 6003))
    assert (b.created, b.skipped_existing) == (3, 6000)


def test_cancel_stops_the_rest_and_cancels_waiting_runs(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    b = start(store, "s", first, 10, concurrency=2)
    store.backfills_top_up(next_fires)
    [running] = store.runs_claim("w", ["default"], 1, 30)
    cancelled = store.backfill_cancel(b.id, "s")
    assert (cancelled.state, cancelled.finished_at is not None) == ("cancelled", True)
    states = {r.fire_time: r.state for r in runs_of(store, "s")}
    assert states == {first: RunState.RUNNING, first + 60: RunState.CANCELLED}
    assert store.run_finish(running, "w", RunState.SUCCEEDED)
    assert store.backfills_top_up(next_fires) == 0
    assert len(runs_of(store, "s")) == 2
    assert store.backfill_get(b.id).state == "cancelled"


def test_backfill_runs_count_neither_as_fires_nor_in_the_outcomes(store: Store) -> None:
    add_schedule(store)
    drain(store, start(store, "s", hour_ago(store), 5, concurrency=5))
    s = store.schedule_get("s")
    assert (s.fires, s.successes, s.failures) == (0, 0, 0)
    assert s.last_state == "succeeded"  # the latest outcome is still shown


def test_the_schedules_overlap_policy_ignores_backfill_runs(store: Store) -> None:
    add_due(store, "live", trigger=EVERY_MINUTE.to_dict())  # overlap: skip (the default)
    start(store, "live", hour_ago(store), 5)
    store.backfills_top_up(next_fires)
    assert len(active(store, "live")) == 1
    store.schedules_fire_due(planner)
    origins = sorted((r.origin, r.state.value) for r in runs_of(store, "live"))
    assert origins == [("backfill", "queued"), ("schedule", "queued")]


def test_a_removed_schedule_cancels_its_backfill(store: Store) -> None:
    add_schedule(store)
    b = start(store, "s", hour_ago(store), 5)
    store.schedule_delete("s")
    assert store.backfills_top_up(next_fires) == 0
    assert store.backfill_get(b.id).state == "cancelled"


def test_backfills_are_listed_newest_first(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    a, b = start(store, "s", first, 2), start(store, "s", first + 600, 2)
    assert [x.id for x in store.backfill_list("s")] == [b.id, a.id]


def test_concurrent_top_ups_never_exceed_the_bound_nor_duplicate_a_fire(
        shared_db_url: str) -> None:
    """Three schedulers top up (each its own connection) while a worker finishes runs."""
    import threading

    stores = [Store(shared_db_url) for _ in range(4)]
    stores[0].migrate()
    main = stores[0]
    add_schedule(main)
    first = hour_ago(main)
    b = start(main, "s", first, 40, concurrency=3)
    stop = threading.Event()
    errors: list[BaseException] = []
    most = [0]

    def schedule(store: Store) -> None:
        try:
            while not stop.is_set():
                store.backfills_top_up(next_fires)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=schedule, args=(s,)) for s in stores[1:]]
    for t in threads:
        t.start()
    try:
        for _ in range(2000):
            most[0] = max(most[0], len(active(main, "s")))
            claimed = main.runs_claim("w", ["default"], 10, 30)
            # A top-up may land between the count and the claim: what was claimed at once
            # was active at once too.
            most[0] = max(most[0], len(claimed))
            for run in claimed:
                assert main.run_finish(run, "w", RunState.SUCCEEDED)
            if main.backfill_get(b.id).state != "running":
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for s in stores:
            s.close()
    assert not errors, errors
    check = Store(shared_db_url)
    try:
        done = check.backfill_get(b.id)
        fires = [r.fire_time for r in runs_of(check, "s")]
    finally:
        check.close()
    assert (done.state, done.created, done.skipped_existing) == ("done", 40, 0)
    assert sorted(fires) == [first + 60 * i for i in range(40)]
    assert 1 <= most[0] <= 3


def test_an_unreadable_plan_stops_its_backfill_and_not_the_others(store: Store) -> None:
    add_schedule(store)
    first = hour_ago(store)
    broken, fine = start(store, "s", first, 3), start(store, "s", first + 600, 3)
    with store.db.write() as tx:
        tx.run("UPDATE horae_backfills SET plan_window = :bad WHERE id = :id",
               {"id": broken.id, "bad": '{"trigger": {"kind": "cron"}}'})
    assert store.backfills_top_up(next_fires) == 1
    assert store.backfill_get(broken.id).state == "cancelled"
    assert store.backfill_get(fine.id).state == "running"
