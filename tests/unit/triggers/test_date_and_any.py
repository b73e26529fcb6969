"""Date triggers fire once; any_of merges its members' fires and fires shared instants once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import AnyTrigger, DateTrigger, Trigger, any_of, at, cron, interval

from .helpers import fires_until, utc, walk

NOON = utc(2026, 12, 1, 9)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        datetime(2026, 12, 1, 17, tzinfo=timezone(timedelta(hours=8))),
        NOON,
        int(NOON),
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:00:00+00:00",
        "2026-12-01 17:00:00+08:00",
    ],
)
def test_at_accepts_aware_instants(when: datetime | float | str) -> None:
    assert at(when).at == NOON


def test_date_trigger_fires_once() -> None:
    trigger = at(NOON)
    assert trigger.next_fire(NOON - 3600) == NOON
    assert trigger.next_fire(NOON - 0.001) == NOON
    assert trigger.next_fire(NOON) is None
    assert trigger.next_fire(NOON + 1) is None
    assert walk(trigger, 0, 5) == [NOON]


@pytest.mark.parametrize("when", [datetime(2026, 12, 1, 9), "2026-12-01T09:00:00"])
def test_naive_times_are_refused_without_a_zone(when: datetime | str) -> None:
    with pytest.raises(InvalidInput) as caught:
        at(when)
    assert caught.value.field == "trigger.at"
    assert "no time zone" in caught.value.reason
    assert "tz=" in caught.value.reason


def test_naive_time_with_a_zone() -> None:
    assert at(datetime(2026, 12, 1, 10), tz="Europe/Berlin").at == NOON
    assert at("2026-12-01T10:00:00.250", tz="Europe/Berlin").at == NOON + 0.25


def test_naive_time_in_a_gap_means_the_gap_end() -> None:
    # 02:30 on 2025-03-30 does not exist in Berlin; 03:00 CEST is 01:00 UTC.
    assert at(datetime(2025, 3, 30, 2, 30), tz="Europe/Berlin").at == utc(2025, 3, 30, 1)


def test_naive_repeated_time_means_its_first_occurrence() -> None:
    # 02:30 on 2025-10-26 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    assert at(datetime(2025, 10, 26, 2, 30), tz="Europe/Berlin").at == utc(2025, 10, 26, 0, 30)


def test_aware_time_ignores_the_zone_argument() -> None:
    assert at(datetime(2026, 12, 1, 9, tzinfo=UTC), tz="Asia/Tokyo").at == NOON


@pytest.mark.parametrize(
    ("when", "tz", "field", "in_reason"),
    [
        ("tomorrow", None, "trigger.at", "not an ISO-8601 date-time"),
        (True, None, "trigger.at", "expected epoch seconds"),
        (None, None, "trigger.at", "expected epoch seconds"),
        (math.nan, None, "trigger.at", "supported years"),
        (1e15, None, "trigger.at", "supported years"),
        (datetime(2026, 1, 1), "Mars/Base", "trigger.tz", "unknown time zone"),
    ],
)
def test_invalid_at(when: object, tz: str | None, field: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        at(when, tz=tz)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert in_reason in caught.value.reason


def test_date_describe_and_to_dict() -> None:
    trigger = at(NOON)
    assert trigger.describe() == "Once at 2026-12-01 09:00:00 UTC"
    assert trigger.describe("zh") == "在 2026-12-01 09:00:00 UTC 执行一次"
    assert at(NOON + 0.5).describe() == "Once at 2026-12-01 09:00:00.5 UTC"
    assert trigger.to_dict() == {"kind": "date", "at": NOON}
    assert DateTrigger(NOON) == trigger


# --- any_of ----------------------------------------------------------------------------------


def test_any_of_merges_in_order() -> None:
    trigger = any_of(cron("0 9 * * *"), at(utc(2026, 1, 1, 12)))
    assert walk(trigger, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 9),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 2, 9),
    ]


def test_any_of_fires_a_shared_instant_once() -> None:
    trigger = any_of(cron("0 * * * *"), interval(1800, anchor=0.0), cron("0 */2 * * *"))
    start = utc(2026, 1, 1)
    assert walk(trigger, start, 4) == [start + 1800 * k for k in range(1, 5)]


def test_any_of_ends_when_every_member_ends() -> None:
    trigger = any_of(at(NOON), at(NOON + 60))
    assert walk(trigger, 0, 5) == [NOON, NOON + 60]


MEMBERS = st.lists(
    st.one_of(
        st.sampled_from(["*/7 * * * *", "0 */3 * * *", "15 10 * * 1-5", "0 0 L * *"]).map(cron),
        st.floats(60, 90_000).map(lambda p: interval(p, anchor=utc(2026, 1, 1))),
        st.floats(utc(2026, 1, 1), utc(2026, 3, 1)).map(at),
    ),
    min_size=1,
    max_size=4,
)


@given(members=MEMBERS)
def test_any_of_is_the_sorted_union_of_member_fires(members: list[Trigger]) -> None:
    start, end = utc(2026, 1, 1), utc(2026, 1, 3)
    expected = sorted({f for member in members for f in fires_until(member, start, end)})
    assert fires_until(any_of(*members), start, end) == expected


@pytest.mark.parametrize(
    ("members", "field", "in_reason"),
    [
        ([], "trigger.triggers", "at least one"),
        (["* * * * *"], "trigger.triggers.0", "expected a trigger"),
        ([interval(5), None], "trigger.triggers.1", "expected a trigger"),
        ([interval(5)] * 101, "trigger.triggers", "at most 100"),
    ],
)
def test_invalid_any_of(members: list[object], field: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        any_of(*members)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert in_reason in caught.value.reason


def test_any_of_nesting_is_bounded() -> None:
    trigger: Trigger = interval(5)
    for _ in range(8):
        trigger = any_of(trigger)
    with pytest.raises(InvalidInput) as caught:
        any_of(trigger)
    assert caught.value.field == "trigger.triggers"


def test_any_describe_and_to_dict() -> None:
    trigger = any_of(interval(300), at(NOON))
    assert trigger.describe() == "Any of: Every 5 minutes; Once at 2026-12-01 09:00:00 UTC"
    assert trigger.describe("zh") == "以下任一：每 5 分钟；在 2026-12-01 09:00:00 UTC 执行一次"
    assert trigger.to_dict() == {
        "kind": "any",
        "triggers": [
            {"kind": "interval", "seconds": 300.0, "anchor": None},
            {"kind": "date", "at": NOON},
        ],
    }
    assert isinstance(trigger, AnyTrigger)
