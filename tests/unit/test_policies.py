"""Misfire, catch-up, overlap, jitter, max_fires and backoff as pure decisions."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.models import Catchup, Overlap, Policies, RunState
from horae.policies import (
    MAX_FIRES_PER_TICK,
    DueSchedule,
    first_fire,
    plan_fires,
    retry_delay,
)
from horae.triggers import at, interval

T0 = 1_800_000_000.0
EVERY_10S = interval(seconds=10, anchor=T0)


def due(pol: Policies, *, next_fire: float = T0, fires: int = 0, waiting: int = 0,
        running: int = 0, trigger=EVERY_10S, oldest: float | None = None) -> DueSchedule:
    return DueSchedule("s", trigger, pol, next_fire, fires, waiting, running, oldest)


def states(plan) -> list[str]:
    return [r.state.value for r in plan.runs]


def rng() -> random.Random:
    return random.Random(7)


def test_on_time_fire_runs_and_advances() -> None:
    plan = plan_fires(due(Policies()), T0 + 0.5, rng())
    assert states(plan) == ["queued"]
    assert plan.runs[0].fire_time == T0
    assert plan.next_fire_at == T0 + 10


def test_catchup_latest_runs_only_the_newest_missed_fire() -> None:
    pol = Policies(misfire_grace=5)
    plan = plan_fires(due(pol), T0 + 45, rng())  # fires at +0 .. +40, all older than 5 s
    assert states(plan) == ["missed"] * 4 + ["queued"]
    assert plan.runs[-1].fire_time == T0 + 40
    assert plan.next_fire_at == T0 + 50


def test_catchup_latest_with_an_on_time_fire_misses_the_older_ones() -> None:
    plan = plan_fires(due(Policies(misfire_grace=5)), T0 + 42, rng())
    assert states(plan) == ["missed"] * 4 + ["queued"]
    assert plan.runs[-1].fire_time == T0 + 40


def test_catchup_all_with_skip_runs_only_the_newest() -> None:
    pol = Policies(misfire_grace=5, catchup=Catchup.ALL, catchup_window=25)
    plan = plan_fires(due(pol), T0 + 45, rng())
    assert states(plan) == ["missed", "missed", "skipped", "skipped", "queued"]


def test_catchup_all_runs_fires_inside_the_window_only() -> None:
    pol = Policies(misfire_grace=5, catchup=Catchup.ALL, catchup_window=25, overlap=Overlap.ALLOW)
    plan = plan_fires(due(pol), T0 + 45, rng())
    # +0 and +10 are older than the 25 s window; +20, +30, +40 run.
    assert states(plan) == ["missed", "missed", "queued", "queued", "queued"]


def test_catchup_none_records_every_misfire() -> None:
    plan = plan_fires(due(Policies(misfire_grace=5, catchup=Catchup.NONE)), T0 + 46, rng())
    assert states(plan) == ["missed"] * 5
    assert plan.next_fire_at == T0 + 50


def test_misfire_grace_decides_what_is_late() -> None:
    assert states(plan_fires(due(Policies(misfire_grace=15, catchup=Catchup.NONE)),
                             T0 + 29, rng())) == ["missed", "missed", "queued"]
    # The grace is inclusive: a fire exactly misfire_grace late still runs.
    assert states(plan_fires(due(Policies(misfire_grace=9, catchup=Catchup.NONE)),
                             T0 + 29, rng())) == ["missed", "missed", "queued"]


@pytest.mark.parametrize(
    ("overlap", "waiting", "running", "expected", "cancel"),
    [
        (Overlap.SKIP, 0, 1, ["skipped"], False),
        (Overlap.SKIP, 1, 0, ["skipped"], False),
        (Overlap.SKIP, 0, 0, ["queued"], False),
        (Overlap.ALLOW, 1, 1, ["queued"], False),
        (Overlap.QUEUE_ONE, 0, 1, ["queued"], False),
        (Overlap.QUEUE_ONE, 1, 1, ["skipped"], False),
        (Overlap.CANCEL_PREVIOUS, 0, 1, ["queued"], True),
        (Overlap.CANCEL_PREVIOUS, 0, 0, ["queued"], False),
    ],
)
def test_overlap(overlap: Overlap, waiting: int, running: int, expected: list[str],
                 cancel: bool) -> None:
    plan = plan_fires(due(Policies(overlap=overlap), waiting=waiting, running=running),
                      T0 + 1, rng())
    assert states(plan) == expected
    assert plan.cancel_active is cancel


def test_queue_one_keeps_only_the_newest_of_a_catch_up() -> None:
    pol = Policies(misfire_grace=100, overlap=Overlap.QUEUE_ONE)
    assert states(plan_fires(due(pol), T0 + 25, rng())) == ["skipped", "skipped", "queued"]


def test_jitter_delays_not_before_but_not_the_fire_identity() -> None:
    pol = Policies(jitter=5)
    plans = [plan_fires(due(pol), T0 + 0.001, random.Random(seed)) for seed in range(50)]
    delays = [p.runs[0].not_before - p.runs[0].fire_time for p in plans]
    assert all(p.runs[0].fire_time == T0 for p in plans)
    assert all(0 <= d <= 5 for d in delays)
    assert len(set(delays)) > 10
    assert any(p.runs[0].state is RunState.SCHEDULED for p in plans)


def test_max_fires_stops_the_schedule() -> None:
    pol = Policies(max_fires=3)
    plan = plan_fires(due(pol, fires=2), T0 + 1, rng())
    assert states(plan) == ["queued"]
    assert plan.next_fire_at is None
    plan = plan_fires(due(pol, fires=1), T0 + 1, rng())
    assert plan.next_fire_at == T0 + 10


def test_skipped_fires_do_not_count_against_max_fires() -> None:
    plan = plan_fires(due(Policies(max_fires=1), running=1), T0 + 1, rng())
    assert states(plan) == ["skipped"]
    assert plan.next_fire_at == T0 + 10


def test_end_at_stops_the_schedule() -> None:
    plan = plan_fires(due(Policies(end_at=T0 + 5)), T0 + 1, rng())
    assert states(plan) == ["queued"]
    assert plan.next_fire_at is None


def test_start_at_defers_the_first_fire() -> None:
    assert first_fire(EVERY_10S, T0, Policies(start_at=T0 + 95)) == T0 + 100


def test_first_fire_is_never_in_the_past() -> None:
    assert first_fire(at(T0 - 1), T0, Policies()) is None
    assert first_fire(EVERY_10S, T0 + 3, Policies()) == T0 + 10


def test_a_long_outage_is_bounded() -> None:
    every_second = interval(seconds=1, anchor=T0)
    pol = Policies(misfire_grace=1)
    plan = plan_fires(due(pol, trigger=every_second), T0 + 30 * 86400, rng())
    assert len(plan.runs) == MAX_FIRES_PER_TICK
    assert states(plan).count("queued") == 1
    assert plan.next_fire_at is not None and plan.next_fire_at > T0 + 30 * 86400


@given(st.floats(min_value=0, max_value=5000), st.sampled_from(list(Catchup)),
       st.sampled_from(list(Overlap)), st.integers(0, 2), st.integers(0, 2))
def test_every_due_fire_gets_exactly_one_decision(lateness: float, catchup: Catchup,
                                                  overlap: Overlap, waiting: int,
                                                  running: int) -> None:
    pol = Policies(misfire_grace=30, catchup=catchup, overlap=overlap, catchup_window=600)
    now = T0 + lateness
    plan = plan_fires(due(pol, waiting=waiting, running=running), now, rng())
    fires = [r.fire_time for r in plan.runs]
    expected = [T0 + 10 * k for k in range(int(lateness // 10) + 2) if T0 + 10 * k <= now]
    assert fires == expected[-MAX_FIRES_PER_TICK:]
    assert plan.next_fire_at == expected[-1] + 10
    runnable = plan.count(RunState.QUEUED, RunState.SCHEDULED)
    if overlap is not Overlap.ALLOW:
        assert runnable <= 1
        if runnable:
            assert plan.runs[-1].state is RunState.QUEUED  # the newest fire is the one run
    if overlap is Overlap.SKIP and waiting + running:
        assert runnable == 0


@given(st.integers(1, 30), st.floats(0.01, 100), st.floats(1, 10_000))
def test_backoff_grows_and_is_capped(attempt: int, base: float, cap: float) -> None:
    d = retry_delay(attempt, base, cap, random.Random(attempt))
    ceiling = min(cap, base * 2 ** (attempt - 1))
    assert ceiling / 2 <= d <= ceiling


def test_a_skip_says_what_blocked_it_and_for_how_long() -> None:
    plan = plan_fires(due(Policies(), waiting=1, oldest=T0 - 42), T0 + 0.4, rng())
    [run] = plan.runs
    assert run.state is RunState.SKIPPED
    assert run.reason == ("overlap=skip: 1 earlier run of this schedule still waiting in the"
                          " queue (the oldest created 42 s ago)")
    plan = plan_fires(due(Policies(overlap=Overlap.QUEUE_ONE), waiting=2, running=1),
                      T0 + 0.4, rng())
    assert plan.runs[0].reason == ("overlap=queue_one: 2 earlier runs of this schedule still"
                                   " waiting or running")


def test_a_burst_skips_all_but_the_newest_and_says_so() -> None:
    pol = Policies(catchup=Catchup.ALL, catchup_window=3600, misfire_grace=3600)
    plan = plan_fires(due(pol), T0 + 25, rng())
    assert states(plan) == ["skipped", "skipped", "queued"]
    assert plan.runs[0].reason == ("overlap=skip: a later fire was due in the same pass (5 s"
                                   " ago) and only the newest one runs")
    assert plan.runs[2].reason is None


def test_a_missed_fire_says_how_late_it_was() -> None:
    pol = Policies(misfire_grace=1.0, catchup=Catchup.NONE)
    plan = plan_fires(due(pol), T0 + 12.5, rng())
    assert states(plan) == ["missed", "missed"]
    assert plan.runs[0].reason == "12.5 s late, beyond misfire_grace=1 s (catchup=none)"
    pol = Policies(misfire_grace=1.0, catchup=Catchup.ALL, catchup_window=5.0)
    plan = plan_fires(due(pol, waiting=0), T0 + 12.5, rng())
    assert plan.runs[0].reason == ("12.5 s late, beyond misfire_grace=1 s and beyond"
                                   " catchup_window=5 s")
