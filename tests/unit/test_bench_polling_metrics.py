"""The polling benchmark's figures (bench/polling_metrics.py): what the goals of issue #11
are judged on, so they are checked against plain enumeration."""

from __future__ import annotations

from pathlib import Path

from bench.polling_metrics import (
    Poll,
    PollLog,
    Spec,
    offered,
    polling_result,
    population,
    read_poll_log,
    stall,
)
from hypothesis import given
from hypothesis import strategies as st

instants = st.floats(min_value=0, max_value=500, allow_nan=False)


@given(anchor=instants, period=st.floats(min_value=0.5, max_value=60), t0=instants,
       span=st.floats(min_value=0, max_value=300), removed=st.none() | instants)
def test_offered_counts_the_trigger_instants_in_the_window_before_removal(
        anchor: float, period: float, t0: float, span: float, removed: float | None) -> None:
    t1 = t0 + span
    expected = sum(1 for j in range(2000)
                   if t0 <= anchor + j * period < t1
                   and (removed is None or anchor + j * period < removed))
    got = offered([Spec("s", period, anchor, 0.0)], {} if removed is None else {"s": removed},
                  t0, t1)
    assert got == expected, (anchor, period, t0, t1, removed)


def test_stall_is_the_longest_time_without_a_start_edges_included() -> None:
    assert stall([], 10.0, 20.0) == 10.0
    assert stall([11.0, 12.0, 18.5], 10.0, 20.0) == 6.5
    assert stall([9.0, 10.5, 19.0, 25.0], 10.0, 20.0) == 8.5


def test_population_is_the_same_draw_every_time_within_its_ranges() -> None:
    a, b = population(200, (30, 60)), population(200, (30, 60))
    assert a == b
    assert all(30 <= o.period <= 60 and 0 <= o.phase <= o.period and 4 <= o.k <= 12 for o in a)


def test_a_fire_not_started_counts_with_its_lateness_so_far_and_late_runs_are_caught() -> None:
    specs = [Spec("a", 10.0, 100.0, 0.0), Spec("b", 10.0, 105.0, 0.0)]
    polls = [
        Poll("a", 100.0, "done", started=100.5, finished=100.6, appeared=100.0),
        Poll("a", 110.0, "done", started=110.2, finished=110.3, appeared=110.0),
        Poll("b", 105.0, "done", started=105.1, finished=105.2, appeared=105.0),
        Poll("b", 115.0, "waiting", appeared=115.0),  # never started: 120 - 115 = 5 s
        Poll("b", 108.0, "skipped", appeared=108.0, reason="previous run still queued"),
    ]
    # a removed itself at 110.4; a run of it that appeared later must be counted
    polls.append(Poll("a", 111.0, "done", started=111.0, finished=111.1, appeared=111.0))
    out = polling_result(specs, polls, {"a": 110.4}, t0=100.0, t1=120.0, observed_until=120.0)
    assert out["not_started"] == 1
    assert out["lateness_max_ms"] == 5000.0
    assert out["skipped"] == 1
    assert out["after_removal"] == 1
    # offered: a at 100, 110 (removed at 110.4); b at 105, 115
    assert out["fires_per_s_offered"] == round(4 / 20, 1)
    assert out["done_ratio"] == 1.0  # 4 started (one of them after removal) of 4 offered


def test_poll_log_lines_become_polls_and_removals(tmp_path: Path) -> None:
    path = str(tmp_path / "polls.txt")
    log = PollLog(path)
    due = repr(100.123456789)
    log.line("F", "a", due, repr(100.2))
    log.line("S", "a", due, repr(100.3))
    log.line("E", "a", due, repr(100.4), repr(100.35))
    log.line("F", "b", repr(101.0), repr(101.1))  # published, never started
    log.line("K", "c", repr(102.0), "skipped", "maximum number of running instances reached")
    log.close()
    polls, removed = read_poll_log(path)
    by_id = {p.schedule: p for p in polls}
    assert by_id["a"] == Poll("a", 100.123456789, "done", 100.3, 100.4, 100.3)
    assert by_id["b"].state == "waiting" and by_id["b"].started is None
    assert by_id["c"].state == "skipped"
    assert by_id["c"].reason == "maximum number of running instances reached"
    assert removed == {"a": 100.35}
