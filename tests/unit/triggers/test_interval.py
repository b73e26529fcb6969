"""Interval triggers: anchor arithmetic, elapsed (not wall) time, and the ways to give a period."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import IntervalTrigger, interval, parse_duration

from .helpers import utc, walk


def test_without_anchor_fires_one_period_after() -> None:
    assert interval(60).next_fire(1000.5) == 1060.5


def test_anchor_is_the_first_fire_and_multiples_follow() -> None:
    trigger = interval(300, anchor=1000.0)
    assert trigger.next_fire(0) == 1000.0
    assert trigger.next_fire(999.99) == 1000.0
    assert trigger.next_fire(1000.0) == 1300.0  # strictly after
    assert trigger.next_fire(1299.5) == 1300.0
    assert trigger.next_fire(1300.0) == 1600.0
    assert trigger.next_fire(1000.0 + 300 * 1_000_000 + 1) == 1000.0 + 300 * 1_000_001


def test_fractional_period() -> None:
    trigger = interval(0.5, anchor=0.0)
    assert trigger.next_fire(10.2) == 10.5
    assert trigger.next_fire(10.5) == 11.0
    assert walk(interval(every="500ms", anchor=2.0), 2.0, 3) == [2.5, 3.0, 3.5]


@given(
    anchor=st.floats(-1e9, 4e9),
    period=st.floats(0.001, 1e7),
    offset=st.floats(-1e7, 1e9),
)
def test_next_fire_is_the_first_anchor_multiple_strictly_after(
    anchor: float, period: float, offset: float
) -> None:
    after = anchor + offset
    fire = interval(period, anchor=anchor).next_fire(after)
    assert fire is not None
    assert fire > after
    k = round((fire - anchor) / period)
    assert k >= 0
    assert math.isclose(fire, anchor + k * period, rel_tol=1e-9, abs_tol=1e-6)
    # No multiple is skipped: the one before is not after ``after`` (or there is none).
    assert k == 0 or anchor + (k - 1) * period <= after


def test_interval_is_elapsed_time_across_dst() -> None:
    new_york = ZoneInfo("America/New_York")
    anchor = datetime(2025, 3, 9, 0, 0, tzinfo=new_york)  # 02:00 -> 03:00 that night
    fires = walk(interval(hours=1, anchor=anchor), anchor.timestamp(), 5)
    assert [b - a for a, b in zip([anchor.timestamp(), *fires], fires, strict=False)] == [3600] * 5
    local_hours = [datetime.fromtimestamp(f, new_york).hour for f in fires]
    assert local_hours == [1, 3, 4, 5, 6]  # the wall clock skips 2, the interval does not


@pytest.mark.parametrize(
    ("kwargs", "seconds"),
    [
        ({"seconds": 90}, 90.0),
        ({"seconds": 0.25}, 0.25),
        ({"minutes": 5}, 300.0),
        ({"hours": 1, "minutes": 30}, 5400.0),
        ({"days": 2}, 172_800.0),
        ({"every": "30s"}, 30.0),
        ({"every": "5m"}, 300.0),
        ({"every": "1h30m"}, 5400.0),
        ({"every": "2d"}, 172_800.0),
        ({"every": "500ms"}, 0.5),
    ],
)
def test_ways_to_give_the_period(kwargs: dict[str, object], seconds: float) -> None:
    assert interval(**kwargs).seconds == seconds  # type: ignore[arg-type]


def test_anchor_as_aware_datetime() -> None:
    anchor = datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    assert interval(60, anchor=anchor).anchor == utc(2026, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "field", "in_reason"),
    [
        ({}, "trigger.seconds", "greater than zero"),
        ({"seconds": 0}, "trigger.seconds", "greater than zero"),
        ({"seconds": -5}, "trigger.seconds", "greater than zero"),
        ({"seconds": math.nan}, "trigger.seconds", "greater than zero"),
        ({"seconds": math.inf}, "trigger.seconds", "greater than zero"),
        ({"seconds": 1e-6}, "trigger.seconds", "between"),
        ({"seconds": 1e12}, "trigger.seconds", "between"),
        ({"seconds": True}, "trigger.seconds", "expected a number"),
        ({"seconds": "5"}, "trigger.seconds", "expected a number"),
        ({"minutes": 0}, "trigger.seconds", "greater than zero"),
        ({"minutes": -1}, "trigger.seconds", "minutes must be a number >= 0"),
        ({"hours": "1"}, "trigger.seconds", "hours must be a number"),
        ({"seconds": 5, "minutes": 1}, "trigger.seconds", "one way only"),
        ({"seconds": 5, "every": "5s"}, "trigger.seconds", "one way only"),
        ({"hours": 1, "every": "1h"}, "trigger.seconds", "one way only"),
        ({"every": "5x"}, "trigger.every", "unknown unit"),
        ({"every": "0s"}, "trigger.every", "greater than zero"),
        ({"every": ""}, "trigger.every", "duration"),
        ({"seconds": 5, "anchor": math.nan}, "trigger.anchor", "supported years"),
        ({"seconds": 5, "anchor": "2026-01-01"}, "trigger.anchor", "expected epoch seconds"),
        ({"seconds": 5, "anchor": datetime(2026, 1, 1)}, "trigger.anchor", "no time zone"),
    ],
)
def test_invalid_interval(kwargs: dict[str, object], field: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        interval(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert in_reason in caught.value.reason


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        ("1m30s", 90.0),
        (" 10 s ", 10.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "in_reason"),
    [
        ("", "give a duration"),
        ("5", "write a number and a unit"),
        ("-5s", "write a number and a unit"),
        ("s", "write a number and a unit"),
        ("5M", "lowercase"),
        ("5 parsecs", "unknown unit 'parsecs'"),
        ("1h1h", "appears twice"),
        ("0m", "greater than zero"),
        ("9" * 400 + "s", "too long"),
    ],
)
def test_parse_duration_rejects(text: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text)
    assert caught.value.field == "every"
    assert in_reason in caught.value.reason


def test_parse_duration_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration("soon", field="options.every")
    assert caught.value.field == "options.every"


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (300, "Every 5 minutes", "每 5 分钟"),
        (60, "Every minute", "每分钟"),
        (5400, "Every 1 hour 30 minutes", "每 1 小时 30 分钟"),
        (86_400, "Every day", "每天"),
        (90_061, "Every 1 day 1 hour 1 minute 1 second", "每 1 天 1 小时 1 分钟 1 秒"),
        (0.5, "Every 500 milliseconds", "每 500 毫秒"),
        (1.5, "Every 1.5 seconds", "每 1.5 秒"),
    ],
)
def test_describe(seconds: float, english: str, chinese: str) -> None:
    trigger = interval(seconds)
    assert trigger.describe() == english
    assert trigger.describe("zh") == chinese


def test_to_dict() -> None:
    assert interval(300, anchor=10).to_dict() == {
        "kind": "interval",
        "seconds": 300.0,
        "anchor": 10.0,
    }
    assert IntervalTrigger(5).to_dict() == {"kind": "interval", "seconds": 5.0, "anchor": None}


def test_anchor_datetime_in_utc_equals_epoch() -> None:
    assert interval(1, anchor=datetime(2026, 1, 1, tzinfo=UTC)).anchor == utc(2026, 1, 1)
