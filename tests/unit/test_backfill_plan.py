"""Backfill planning (horae.backfill): the exact fires of a past range, with DST markers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from horae.backfill import Window, check_concurrency, check_range, plan, with_existing
from horae.errors import InvalidInput
from horae.triggers import Trigger, any_of, cron, interval

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


class CountingTrigger(Trigger):
    """A trigger that counts its calls (the planning's cost, without timing anything)."""

    kind = "cron"

    def __init__(self, inner: Trigger) -> None:
        self.inner, self.calls = inner, 0

    def next_fire(self, after: float) -> float | None:
        self.calls += 1
        return self.inner.next_fire(after)

    def describe(self, locale: str = "en") -> str:
        return self.inner.describe(locale)

    def to_dict(self) -> dict[str, object]:
        return self.inner.to_dict()


def test_from_is_inclusive_and_to_exclusive() -> None:
    p = plan("s", Window(cron("0 * * * *")), utc(2026, 1, 1, 0), utc(2026, 1, 1, 3))
    assert [f.fire_time for f in p.fires] == [utc(2026, 1, 1, h) for h in (0, 1, 2)]
    assert all(f.markers == () for f in p.fires)


def test_the_schedules_window_bounds_the_plan() -> None:
    window = Window(cron("0 * * * *"), start_at=utc(2026, 1, 1, 1), end_at=utc(2026, 1, 1, 2))
    p = plan("s", window, utc(2026, 1, 1, 0), utc(2026, 1, 1, 5))
    assert [f.fire_time for f in p.fires] == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]


def test_thirty_days_of_a_one_minute_schedule_cost_one_trigger_step_per_fire() -> None:
    counting = CountingTrigger(cron("* * * * *", "Europe/Berlin"))
    p = plan("s", Window(counting), utc(2026, 3, 15), utc(2026, 4, 14))
    assert p.total == 43_200  # every minute of elapsed time, across the spring forward
    assert counting.calls == p.steps == p.total + 1


def test_spring_forward_in_berlin_marks_the_shifted_fire() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist and fires at 03:00 CEST.
    p = plan("s", Window(cron("30 * * * *", "Europe/Berlin")), utc(2026, 3, 28, 23),
             utc(2026, 3, 29, 4))
    local = [(datetime.fromtimestamp(f.fire_time, BERLIN).strftime("%H:%M"), f.markers)
             for f in p.fires]
    assert local == [("00:30", ()), ("01:30", ()), ("03:00", ("dst_gap_shifted",)),
                     ("03:30", ()), ("04:30", ()), ("05:30", ())]
    assert p.zone == "Europe/Berlin"


def test_a_fire_at_the_end_of_a_gap_is_not_shifted_when_nothing_fell_in_the_gap() -> None:
    p = plan("s", Window(cron("0 3 * * *", "Europe/Berlin")), utc(2026, 3, 28), utc(2026, 3, 30))
    assert [f.markers for f in p.fires] == [(), ()]


def test_fall_back_marks_the_first_and_second_occurrence_of_a_wall_time() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:xx happens twice. Cron fires the first pass;
    # an interval (elapsed time) fires in both.
    trig = any_of(cron("15 2 * * *", "Europe/Berlin"), interval(hours=1, anchor=utc(2026, 1, 1)))
    p = plan("s", Window(trig), utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30))
    marked = [(datetime.fromtimestamp(f.fire_time, BERLIN).strftime("%H:%M"), f.markers)
              for f in p.fires]
    assert marked == [("02:00", ("dst_ambiguous_fold_0",)),
                      ("02:15", ("dst_ambiguous_fold_0",)), ("02:00", ("dst_ambiguous_fold_1",)),
                      ("03:00", ())]


def test_too_many_fires_are_refused_naming_to() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan("s", Window(cron("* * * * *")), utc(2026, 1, 1), utc(2026, 1, 2), limit=1000)
    assert caught.value.field == "to" and "more than 1,000 fires" in caught.value.reason


def test_a_range_must_be_in_the_past_and_not_empty() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_range(utc(2026, 1, 1), utc(2026, 1, 3), now=utc(2026, 1, 2))
    assert caught.value.field == "to" and "future" in caught.value.reason
    with pytest.raises(InvalidInput) as caught:
        check_range(utc(2026, 1, 1), utc(2026, 1, 1), now=utc(2026, 1, 2))
    assert caught.value.field == "to"
    check_range(utc(2026, 1, 1), utc(2026, 1, 2), now=utc(2026, 1, 2))


@pytest.mark.parametrize("value", [0, 101, True, "2", 1.5])
def test_concurrency_is_a_whole_number_from_1_to_100(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_concurrency(value)
    assert caught.value.field == "concurrency"


def test_fires_that_have_a_run_are_marked_and_counted() -> None:
    p = plan("s", Window(cron("0 * * * *")), utc(2026, 1, 1, 0), utc(2026, 1, 1, 4))
    p = with_existing(p, {utc(2026, 1, 1, 1), utc(2026, 1, 1, 3)})
    assert [f.has_run for f in p.fires] == [False, True, False, True]
    assert (p.total, p.already_run, p.to_dict()["to_create"]) == (4, 2, 2)


def test_next_batch_resumes_exactly_where_it_stopped() -> None:
    window = Window(cron("*/10 * * * *"))
    start, end = utc(2026, 1, 1), utc(2026, 1, 1, 1)
    cursor: float | None = start
    seen: list[float] = []
    while cursor is not None:
        batch, cursor = window.next_batch(cursor, end, 4)
        seen += batch
    assert seen == [f.fire_time for f in plan("s", window, start, end).fires]
    assert Window.loads(window.dumps()) == window
