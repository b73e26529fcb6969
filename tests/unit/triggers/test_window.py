"""preview and next_in_window: the next fires inside a schedule's start/end window."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import Trigger, at, cron, interval, next_in_window, preview

from .helpers import utc

START = utc(2026, 1, 1)


def test_preview_returns_n_increasing_aware_utc_datetimes() -> None:
    fires = preview(cron("0 9 * * *", "Asia/Shanghai"), START, 5)
    assert len(fires) == 5
    assert all(f.tzinfo is UTC for f in fires)
    assert fires == sorted(set(fires))
    assert fires[0] == datetime(2026, 1, 1, 1, tzinfo=UTC)


def test_preview_accepts_an_aware_datetime_and_refuses_a_naive_one() -> None:
    assert preview(interval(60, anchor=START), datetime(2026, 1, 1, tzinfo=UTC), 1) == [
        datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    ]
    with pytest.raises(InvalidInput) as caught:
        preview(interval(60), datetime(2026, 1, 1), 1)
    assert caught.value.field == "after"


def test_preview_caps_n_at_1000() -> None:
    assert len(preview(cron("* * * * * *"), START, 5000)) == 1000


@pytest.mark.parametrize("n", [0, -3])
def test_preview_of_nothing(n: int) -> None:
    assert preview(cron("* * * * *"), START, n) == []


def test_preview_refuses_a_non_integer_count() -> None:
    with pytest.raises(InvalidInput) as caught:
        preview(cron("* * * * *"), START, 2.5)  # type: ignore[arg-type]
    assert caught.value.field == "n"


def test_preview_stops_when_the_trigger_ends() -> None:
    assert preview(at(START + 10), START, 10) == [datetime.fromtimestamp(START + 10, UTC)]


def test_preview_respects_start_at_inclusively_and_end_at_inclusively() -> None:
    hourly = cron("0 * * * *")
    fires = preview(hourly, START, 10, start_at=START + 3 * 3600, end_at=START + 6 * 3600)
    assert fires == [datetime.fromtimestamp(START + h * 3600, UTC) for h in (3, 4, 5, 6)]


def test_next_in_window() -> None:
    hourly = cron("0 * * * *")
    assert next_in_window(hourly, START, None, None) == START + 3600
    assert next_in_window(hourly, START, START - 86_400, None) == START + 3600  # start passed
    assert next_in_window(hourly, START, START + 7200, None) == START + 7200  # >= start_at
    assert next_in_window(hourly, START, START + 7000, None) == START + 7200
    assert next_in_window(hourly, START, None, START + 3600) == START + 3600  # == end_at
    assert next_in_window(hourly, START, None, START + 3599) is None
    assert next_in_window(hourly, START, START + 7200, START + 3600) is None
    assert next_in_window(hourly, START + 7200, START + 3600, None) == START + 3 * 3600


TRIGGERS = st.one_of(
    st.sampled_from(["*/10 * * * *", "0 */5 * * *", "30 9 * * 1-5"]).map(cron),
    st.floats(30, 20_000).map(lambda p: interval(p, anchor=START)),
)


@given(
    trigger=TRIGGERS,
    after=st.floats(START, START + 86_400),
    start_at=st.none() | st.floats(START - 86_400, START + 2 * 86_400),
    end_at=st.none() | st.floats(START, START + 3 * 86_400),
)
def test_preview_is_the_trigger_walk_filtered_to_the_window(
    trigger: Trigger, after: float, start_at: float | None, end_at: float | None
) -> None:
    expected: list[float] = []  # the plain walk, filtered one fire at a time
    fire = trigger.next_fire(after)
    while fire is not None and len(expected) < 20 and (end_at is None or fire <= end_at):
        if start_at is None or fire >= start_at:
            expected.append(fire)
        fire = trigger.next_fire(fire)
    got = preview(trigger, after, 20, start_at=start_at, end_at=end_at)
    assert got == [datetime.fromtimestamp(f, UTC) for f in expected]
    if got:
        assert next_in_window(trigger, after, start_at, end_at) == expected[0]


def test_next_in_window_with_start_at_equal_to_a_fractional_fire() -> None:
    trigger = interval(0.1, anchor=0.0)
    fire = trigger.next_fire(5.0)
    assert fire is not None
    assert next_in_window(trigger, 0.0, fire, None) == fire
    assert next_in_window(trigger, 0.0, math.nextafter(fire, math.inf), None) != fire
