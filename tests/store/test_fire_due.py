"""schedules_fire_due: fires become runs once, schedules advance, policies are recorded."""

from __future__ import annotations

import math

from horae.models import Catchup, Overlap, RunState
from horae.store import Store
from tests.store.support import add_due, cron, make_due, planner, runs_of, schedule


def test_a_due_schedule_gets_one_queued_run_and_advances(store: Store) -> None:
    s = add_due(store, "s", queue="net-a", priority=3, retries=2, retry_backoff=5.0, timeout=9.0)
    before = store.now()
    out = store.schedules_fire_due(planner)
    assert (out.schedules, out.fires, out.runs_queued) == (1, 1, 1)

    [run] = runs_of(store, "s")
    assert run.state is RunState.QUEUED
    assert run.fire_time == s.next_fire_at
    assert run.origin == "schedule"
    assert (run.task, run.args, run.kwargs) == ("job", [1, "two"], {"k": "v"})
    assert (run.queue, run.priority, run.max_attempts, run.retry_backoff, run.timeout) == (
        "net-a", 3, 3, 5.0, 9.0)
    assert run.attempt == 0 and run.finished_at is None and run.lease_owner is None
    assert run.not_before == s.next_fire_at
    assert before - 1 <= run.created_at <= store.now() + 1

    after = store.schedule_get("s")
    assert after.next_fire_at == s.next_fire_at + 100
    assert (after.fires, after.missed, after.skipped) == (1, 0, 0)
    assert after.version == s.version  # firing is not an edit


def test_nothing_is_due_then_nothing_happens(store: Store) -> None:
    store.schedule_add(schedule("future", next_fire_at=store.now() + 30))
    store.schedule_add(schedule("never", next_fire_at=None))
    out = store.schedules_fire_due(planner)
    assert (out.schedules, out.fires, out.runs_queued) == (0, 0, 0)
    assert store.run_list() == []


def test_firing_again_at_once_does_not_duplicate(store: Store) -> None:
    add_due(store, "s", overlap=Overlap.ALLOW)
    store.schedules_fire_due(planner)
    assert store.schedules_fire_due(planner).fires == 0
    assert len(runs_of(store, "s")) == 1


def test_the_same_instant_never_becomes_a_second_run(store: Store) -> None:
    """UNIQUE(schedule_id, fire_time): an edit that puts an already-fired instant back."""
    first = add_due(store, "s", overlap=Overlap.ALLOW)
    store.schedules_fire_due(planner)
    [run] = runs_of(store, "s")
    fired = store.schedule_get("s")
    fired.next_fire_at = first.next_fire_at
    store.schedule_replace(fired)

    store.schedules_fire_due(planner)
    assert [(r.id, r.fire_time) for r in runs_of(store, "s")] == [(run.id, first.next_fire_at)]
    after = store.schedule_get("s")
    assert after.next_fire_at == first.next_fire_at + 100
    assert after.fires == 1, "a fire that made no run must not be counted"


def test_paused_schedules_do_not_fire(store: Store) -> None:
    s = schedule("p", next_fire_at=store.now() - 5)
    s.paused = True
    store.schedule_add(s)
    assert store.schedules_fire_due(planner).fires == 0
    assert store.run_list() == []
    assert store.schedule_get("p").next_fire_at == s.next_fire_at


def test_limit_takes_the_earliest_due_schedules(store: Store) -> None:
    for i, late in enumerate([3.0, 1.0, 5.0, 2.0, 4.0]):
        add_due(store, f"s{i}", late=late)
    out = store.schedules_fire_due(planner, limit=2)
    assert out.schedules == 2
    assert {r.schedule_id for r in store.run_list()} == {"s2", "s4"}
    out = store.schedules_fire_due(planner, limit=10)
    assert out.schedules == 3
    assert len(store.run_list()) == 5


def test_cron_schedule_fires_every_due_second(store: Store) -> None:
    whole = math.floor(store.now())
    s = schedule("c", trigger=cron("* * * * * *").to_dict(), next_fire_at=whole - 2.0,
                 overlap=Overlap.ALLOW)
    store.schedule_add(s)
    store.schedules_fire_due(planner)
    fires = [r.fire_time for r in runs_of(store, "c")]
    assert fires[:3] == [whole - 2.0, whole - 1.0, float(whole)]
    assert fires == [float(t) for t in range(whole - 2, whole - 2 + len(fires))]
    assert store.schedule_get("c").next_fire_at == fires[-1] + 1
    assert all(r.state is RunState.QUEUED for r in runs_of(store, "c"))


def test_overlap_skip_records_a_skipped_run_while_the_previous_is_active(store: Store) -> None:
    add_due(store, "s")  # overlap=skip is the default
    store.schedules_fire_due(planner)
    make_due(store, "s")
    store.schedules_fire_due(planner)  # previous run still queued
    [claimed] = store.runs_claim("w", ["default"], 1, 30)
    make_due(store, "s")
    store.schedules_fire_due(planner)  # previous run now running

    runs = runs_of(store, "s")
    assert [r.state for r in runs] == [RunState.RUNNING, RunState.SKIPPED, RunState.SKIPPED]
    assert runs[0].id == claimed.id
    for skipped in runs[1:]:
        assert skipped.finished_at is not None
        assert skipped.attempt == 0
    # Each skip says what was in its way, so a run of skips under overload is explained.
    assert runs[1].error is not None and runs[2].error is not None
    assert runs[1].error.startswith("overlap=skip: 1 earlier run of this schedule still "
                                    "waiting in the queue (the oldest created ")
    assert runs[2].error.startswith("overlap=skip: 1 earlier run of this schedule still "
                                    "running (the oldest created ")
    s = store.schedule_get("s")
    assert (s.fires, s.skipped, s.missed) == (1, 2, 0)


def test_cancel_previous_cancels_a_queued_run_and_flags_a_running_one(store: Store) -> None:
    add_due(store, "s", overlap=Overlap.CANCEL_PREVIOUS)
    store.schedules_fire_due(planner)
    make_due(store, "s")
    store.schedules_fire_due(planner)
    first, second = runs_of(store, "s")
    assert first.state is RunState.CANCELLED and first.finished_at is not None
    assert second.state is RunState.QUEUED

    [claimed] = store.runs_claim("w", ["default"], 1, 30)
    assert claimed.id == second.id
    make_due(store, "s")
    store.schedules_fire_due(planner)
    _, second, third = runs_of(store, "s")
    assert second.state is RunState.RUNNING and second.cancel_requested
    assert third.state is RunState.QUEUED and not third.cancel_requested
    assert store.runs_heartbeat("w", 30) == {second.id}


def test_catchup_latest_runs_the_newest_missed_fire_and_records_the_others(store: Store) -> None:
    s = add_due(store, "s", late=45.5, misfire_grace=1.0)  # every 100 s: one fire is due
    s = store.schedule_get("s")
    s.trigger = {"kind": "interval", "seconds": 10.0, "anchor": None}
    store.schedule_replace(s)
    store.schedules_fire_due(planner)

    runs = runs_of(store, "s")
    start = s.next_fire_at
    assert [r.fire_time for r in runs] == [start + 10 * i for i in range(5)]
    assert [r.state for r in runs] == [RunState.MISSED] * 4 + [RunState.QUEUED]
    assert all(r.finished_at is not None for r in runs[:4])
    assert all(r.error is not None and "beyond misfire_grace=1 s; catchup=latest runs only"
               " the newest missed fire" in r.error for r in runs[:4]), runs
    assert runs[4].error is None
    after = store.schedule_get("s")
    assert (after.fires, after.missed, after.skipped) == (1, 4, 0)
    assert after.next_fire_at == start + 50


def test_catchup_none_records_every_misfire_as_missed(store: Store) -> None:
    s = add_due(store, "s", late=25.5, misfire_grace=1.0, catchup=Catchup.NONE,
                trigger={"kind": "interval", "seconds": 10.0, "anchor": None})
    store.schedules_fire_due(planner)
    assert [r.state for r in runs_of(store, "s")] == [RunState.MISSED] * 3
    after = store.schedule_get("s")
    assert (after.fires, after.missed) == (0, 3)
    assert after.next_fire_at == s.next_fire_at + 30


def test_catchup_all_runs_each_misfire_inside_the_window(store: Store) -> None:
    add_due(store, "s", late=25.5, misfire_grace=1.0, catchup=Catchup.ALL, catchup_window=20.0,
            overlap=Overlap.ALLOW, trigger={"kind": "interval", "seconds": 10.0, "anchor": None})
    store.schedules_fire_due(planner)
    assert [r.state for r in runs_of(store, "s")] == [RunState.MISSED] + [RunState.QUEUED] * 2
    after = store.schedule_get("s")
    assert (after.fires, after.missed) == (2, 1)


def test_max_fires_stops_the_schedule(store: Store) -> None:
    add_due(store, "s", max_fires=2, overlap=Overlap.ALLOW)
    store.schedules_fire_due(planner)
    assert store.schedule_get("s").next_fire_at is not None
    make_due(store, "s")
    store.schedules_fire_due(planner)
    s = store.schedule_get("s")
    assert s.fires == 2
    assert s.next_fire_at is None
    assert store.schedules_next_due() is None
    assert store.schedules_fire_due(planner).fires == 0
    assert len(runs_of(store, "s")) == 2


def test_jitter_makes_a_scheduled_run_that_waits_for_not_before(store: Store) -> None:
    s = add_due(store, "s", late=0.0, jitter=3600.0)
    store.schedules_fire_due(planner)
    [run] = runs_of(store, "s")
    assert run.fire_time == s.next_fire_at
    if run.state is RunState.SCHEDULED:  # jitter drew a delay past now
        assert run.not_before > store.now()
        assert store.runs_claim("w", ["default"], 10, 30) == []
    assert s.next_fire_at <= run.not_before <= s.next_fire_at + 3600
