"""Date triggers fire once; any_of merges its members' fires and fires shared instants once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import (
    AnyTrigger,
    DateTrigger,
    Trigger,
    any_of,
    at,
    cron,
    interval,
    trigger_from_dict,
    zone_of,
)

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


NEW_YORK = "America/New_York"
# 2025-03-09 02:00-03:00 does not exist in New York (EST -5 -> EDT -4); 2025-11-02 01:00-02:00
# happens twice (EDT -4, then EST -5).
GAP_0230_AS_0330_EDT = utc(2025, 3, 9, 7, 30)
REPEAT_0130_FIRST = utc(2025, 11, 2, 5, 30)
REPEAT_0130_SECOND = utc(2025, 11, 2, 6, 30)


def _every_form(wall: datetime, zone: str) -> list[DateTrigger]:
    """The same wall time passed each way ``at`` accepts it."""
    text = wall.replace(fold=0).isoformat()
    forms = [
        at(wall, tz=zone),
        at(wall.replace(tzinfo=ZoneInfo(zone))),
        at(wall.replace(tzinfo=ZoneInfo(zone)), tz=zone),
    ]
    if not wall.fold:  # an ISO string has no fold: it can only name the first occurrence
        forms += [at(text, tz=zone), trigger_from_dict({"kind": "date", "at": text, "tz": zone})]
    return forms  # type: ignore[return-value]


@pytest.mark.parametrize("fold", [0, 1])
def test_a_wall_time_in_a_gap_moves_forward_by_the_gap_whatever_its_form(fold: int) -> None:
    wall = datetime(2025, 3, 9, 2, 30, fold=fold)
    assert {t.at for t in _every_form(wall, NEW_YORK)} == {GAP_0230_AS_0330_EDT}
    # Berlin, 2025-03-30: 02:30 does not exist; it is 03:30 CEST = 01:30 UTC.
    assert at(datetime(2025, 3, 30, 2, 30), tz="Europe/Berlin").at == utc(2025, 3, 30, 1, 30)


@pytest.mark.parametrize(("fold", "expected"), [(0, REPEAT_0130_FIRST), (1, REPEAT_0130_SECOND)])
def test_a_repeated_wall_time_is_the_occurrence_its_fold_names(fold: int, expected: float) -> None:
    wall = datetime(2025, 11, 2, 1, 30, fold=fold)
    assert {t.at for t in _every_form(wall, NEW_YORK)} == {expected}


def test_a_skipped_day_moves_forward_by_a_day() -> None:
    # Pacific/Apia skipped 2011-12-30 (-10 -> +14): noon that day is noon on the 31st.
    assert at(datetime(2011, 12, 30, 12), tz="Pacific/Apia").at == utc(2011, 12, 30, 22)


def test_ordinary_wall_times_keep_their_microseconds_in_every_form() -> None:
    wall = datetime(2026, 12, 1, 10, 0, 0, 250_000)
    assert {t.at for t in _every_form(wall, "Europe/Berlin")} == {NOON + 0.25}


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


def test_the_zone_given_is_kept_in_data_and_description() -> None:
    shanghai = at(datetime(2026, 12, 1, 17), tz="Asia/Shanghai")
    assert shanghai.at == NOON
    assert shanghai.to_dict() == {"kind": "date", "at": NOON, "tz": "Asia/Shanghai"}
    assert trigger_from_dict(shanghai.to_dict()) == shanghai
    assert shanghai.describe() == "Once at 2026-12-01 17:00:00 (Asia/Shanghai)"
    assert shanghai.describe("zh") == "在 2026-12-01 17:00:00 (Asia/Shanghai) 执行一次"
    # A ZoneInfo datetime names its zone itself; an offset alone names none.
    aware = at(datetime(2026, 12, 1, 17, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert aware.to_dict()["tz"] == "Asia/Shanghai"
    assert "tz" not in at("2026-12-01T17:00:00+08:00").to_dict()
    assert zone_of(shanghai.to_dict()) == "Asia/Shanghai"
    assert zone_of(at(NOON).to_dict()) is None
    assert zone_of(cron("0 0 * * *").to_dict()) == "UTC"


def test_a_bad_zone_in_date_data_names_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        trigger_from_dict({"kind": "date", "at": NOON, "tz": "Mars/Base"})
    assert caught.value.field == "trigger.tz"
    with pytest.raises(InvalidInput) as caught:
        trigger_from_dict({"kind": "any", "triggers": [{"kind": "date", "at": NOON, "tz": 5}]})
    assert caught.value.field == "trigger.triggers.0.tz"


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
