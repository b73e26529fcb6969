"""What each part of the cron dialect selects, checked against dates worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from horae.triggers import cron

from .helpers import utc, walk


def days(expr: str, after: float, n: int, zone: str = "UTC") -> list[str]:
    return [
        datetime.fromtimestamp(fire, UTC).strftime("%a %Y-%m-%d %H:%M:%S")
        for fire in walk(cron(expr, zone), after, n)
    ]


JAN_2025 = utc(2025, 1, 1)


def test_five_fields_minute_hour_dom_month_dow() -> None:
    assert days("30 2 * * *", JAN_2025, 2) == ["Wed 2025-01-01 02:30:00", "Thu 2025-01-02 02:30:00"]


def test_six_fields_start_with_seconds() -> None:
    assert days("15 */20 * * * *", JAN_2025, 3) == [
        "Wed 2025-01-01 00:00:15",
        "Wed 2025-01-01 00:20:15",
        "Wed 2025-01-01 00:40:15",
    ]


def test_every_second() -> None:
    assert walk(cron("* * * * * *"), JAN_2025 + 0.25, 3) == [
        JAN_2025 + 1,
        JAN_2025 + 2,
        JAN_2025 + 3,
    ]


def test_fractional_after_is_strict() -> None:
    trigger = cron("* * * * *")
    assert trigger.next_fire(JAN_2025 - 0.5) == JAN_2025
    assert trigger.next_fire(JAN_2025) == JAN_2025 + 60
    assert trigger.next_fire(JAN_2025 + 0.5) == JAN_2025 + 60


@pytest.mark.parametrize(
    ("expr", "minutes"),
    [
        ("10-50/10 * * * *", [10, 20, 30, 40, 50, 10]),
        ("5/15 * * * *", [5, 20, 35, 50, 5, 20]),
        ("1,7,58 * * * *", [1, 7, 58, 1, 7, 58]),
        ("0-2,57-59/2 * * * *", [1, 2, 57, 59, 0, 1]),
        ("*/25 * * * *", [25, 50, 0, 25, 50, 0]),
    ],
)
def test_ranges_steps_and_lists(expr: str, minutes: list[int]) -> None:
    fires = walk(cron(expr), JAN_2025, len(minutes))
    assert [datetime.fromtimestamp(f, UTC).minute for f in fires] == minutes


def test_month_and_weekday_names_are_case_insensitive() -> None:
    assert days("0 0 1 jan,Jul *", JAN_2025, 2) == [
        "Tue 2025-07-01 00:00:00",
        "Thu 2026-01-01 00:00:00",
    ]
    assert days("0 0 * * mon-FRI", utc(2025, 1, 3), 2) == [
        "Mon 2025-01-06 00:00:00",
        "Tue 2025-01-07 00:00:00",
    ]


def test_weekday_range_may_end_on_sunday() -> None:
    assert days("0 0 * * FRI-SUN", JAN_2025, 4) == [
        "Fri 2025-01-03 00:00:00",
        "Sat 2025-01-04 00:00:00",
        "Sun 2025-01-05 00:00:00",
        "Fri 2025-01-10 00:00:00",
    ]


def test_weekday_start_step_stops_at_saturday() -> None:
    # "1/2" = Monday, Wednesday, Friday; 7 is only a spelling of Sunday, not an eighth day.
    assert days("0 0 * * 1/2", utc(2025, 1, 5), 4) == [
        "Mon 2025-01-06 00:00:00",
        "Wed 2025-01-08 00:00:00",
        "Fri 2025-01-10 00:00:00",
        "Mon 2025-01-13 00:00:00",
    ]


def test_zero_and_seven_are_both_sunday() -> None:
    assert days("0 0 * * 0", JAN_2025, 3) == days("0 0 * * 7", JAN_2025, 3)
    assert days("0 0 * * 7", JAN_2025, 1) == ["Sun 2025-01-05 00:00:00"]


def test_question_mark_means_star_in_day_fields() -> None:
    assert days("0 0 ? * MON", JAN_2025, 3) == days("0 0 * * MON", JAN_2025, 3)
    assert days("0 0 1 * ?", JAN_2025, 3) == days("0 0 1 * *", JAN_2025, 3)


def test_l_is_last_day_of_month() -> None:
    assert days("0 0 L * *", utc(2024, 1, 1), 4) == [
        "Wed 2024-01-31 00:00:00",
        "Thu 2024-02-29 00:00:00",
        "Sun 2024-03-31 00:00:00",
        "Tue 2024-04-30 00:00:00",
    ]


def test_l_minus_n_counts_back_from_last_day() -> None:
    assert days("0 0 L-3 * *", JAN_2025, 2) == [
        "Tue 2025-01-28 00:00:00",
        "Tue 2025-02-25 00:00:00",
    ]


def test_lw_is_last_weekday_of_month() -> None:
    # May 31 2025 is a Saturday, Aug 31 2025 a Sunday: both move back to Friday.
    assert days("0 0 LW 5,8,9 *", JAN_2025, 3) == [
        "Fri 2025-05-30 00:00:00",
        "Fri 2025-08-29 00:00:00",
        "Tue 2025-09-30 00:00:00",
    ]


def test_nearest_weekday() -> None:
    # Feb 15 2025 is a Saturday (-> Fri 14); Jun 15 2025 a Sunday (-> Mon 16).
    assert days("0 0 15W 2,6 *", JAN_2025, 2) == [
        "Fri 2025-02-14 00:00:00",
        "Mon 2025-06-16 00:00:00",
    ]
    # Feb 1 2025 is a Saturday: W never leaves the month, so Monday the 3rd.
    assert days("0 0 1W 2 *", JAN_2025, 1) == ["Mon 2025-02-03 00:00:00"]
    # Aug 31 2025 is a Sunday: Friday the 29th. April has no 31st, so 31W skips it.
    assert days("0 0 31W 4,8 *", JAN_2025, 1) == ["Fri 2025-08-29 00:00:00"]


def test_last_weekday_of_month_with_l_suffix() -> None:
    assert days("0 0 * * 5L", JAN_2025, 3) == [
        "Fri 2025-01-31 00:00:00",
        "Fri 2025-02-28 00:00:00",
        "Fri 2025-03-28 00:00:00",
    ]
    assert days("0 0 * * FRIL", JAN_2025, 3) == days("0 0 * * 5L", JAN_2025, 3)


def test_hash_is_nth_weekday_of_month() -> None:
    assert days("0 0 * * 1#2", JAN_2025, 3) == [
        "Mon 2025-01-13 00:00:00",
        "Mon 2025-02-10 00:00:00",
        "Mon 2025-03-10 00:00:00",
    ]
    assert days("0 0 * * FRI#5", JAN_2025, 3) == [
        "Fri 2025-01-31 00:00:00",
        "Fri 2025-05-30 00:00:00",
        "Fri 2025-08-29 00:00:00",
    ]


def test_vixie_or_when_both_day_fields_are_restricted() -> None:
    # The 13th OR any Friday.
    assert days("0 0 13 * 5", utc(2025, 6, 1), 7) == [
        "Fri 2025-06-06 00:00:00",
        "Fri 2025-06-13 00:00:00",
        "Fri 2025-06-20 00:00:00",
        "Fri 2025-06-27 00:00:00",
        "Fri 2025-07-04 00:00:00",
        "Fri 2025-07-11 00:00:00",
        "Sun 2025-07-13 00:00:00",
    ]


def test_vixie_and_when_a_day_field_starts_with_star() -> None:
    # '*/2' counts as unrestricted for the OR rule: odd days AND Mondays.
    assert days("0 0 */2 * 1", JAN_2025, 3) == [
        "Mon 2025-01-13 00:00:00",
        "Mon 2025-01-27 00:00:00",
        "Mon 2025-02-03 00:00:00",
    ]
    # '*/7' in day-of-week is Sunday only: the 1st AND a Sunday.
    assert days("0 0 1 * */7", JAN_2025, 2) == [
        "Sun 2025-06-01 00:00:00",
        "Sun 2026-02-01 00:00:00",
    ]


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases(alias: str, equivalent: str) -> None:
    assert days(alias, JAN_2025, 3) == days(equivalent, JAN_2025, 3)
    assert days(alias, JAN_2025, 1)  # and it fires at all


def test_february_29_waits_for_leap_years_and_skips_2100() -> None:
    assert days("0 0 29 2 *", JAN_2025, 2) == ["Tue 2028-02-29 00:00:00", "Sun 2032-02-29 00:00:00"]
    assert days("0 0 29 2 *", utc(2097, 1, 1), 1) == ["Fri 2104-02-29 00:00:00"]


def test_utc_aliases_agree_with_utc() -> None:
    assert days("0 2 * * *", JAN_2025, 2, "Etc/UTC") == days("0 2 * * *", JAN_2025, 2, "UTC")


def test_zone_shifts_the_wall_clock() -> None:
    # 02:00 in Shanghai (UTC+8, no DST) is 18:00 UTC the day before.
    assert days("0 2 * * *", JAN_2025, 1, "Asia/Shanghai") == ["Wed 2025-01-01 18:00:00"]


def test_no_fire_past_the_supported_years() -> None:
    trigger = cron("0 0 1 1 *")
    assert trigger.next_fire(utc(9998, 6, 1)) is None
    assert trigger.next_fire(math.inf) is None
    assert trigger.next_fire(math.nan) is None
    assert trigger.next_fire(-math.inf) == utc(3, 1, 1)
