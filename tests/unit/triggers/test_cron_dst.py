"""Named DST cases (DESIGN.md, "Semantics"):

- gap rule: a wall time that does not exist fires at the first instant after the gap, and
  several such wall times collapse into that one instant;
- repeated-hour rule: a wall time that occurs twice fires once, at the first occurrence; in
  the second pass of the repeated hour nothing fires for those wall times.

Expected fires are written as the wall clock a person in the zone sees, with its offset.
"""

from __future__ import annotations

import pytest

from horae.triggers import cron

from .helpers import local_text, utc, walk

NY = "America/New_York"
BERLIN = "Europe/Berlin"
LORD_HOWE = "Australia/Lord_Howe"  # DST shift of 30 minutes
APIA = "Pacific/Apia"  # DST until 2021; skipped 2011-12-30 entirely


def fires(expr: str, zone: str, after: float, n: int) -> list[str]:
    return [local_text(fire, zone) for fire in walk(cron(expr, zone), after, n)]


# --- gap (spring forward) --------------------------------------------------------------------

GAP_DAILY = [
    # zone, expr, start (UTC), expected local fires
    pytest.param(
        NY,
        "30 2 * * *",
        utc(2025, 3, 7, 12),
        ["2025-03-08 02:30:00 -0500", "2025-03-09 03:00:00 -0400", "2025-03-10 02:30:00 -0400"],
        id="new-york",
    ),
    pytest.param(
        BERLIN,
        "30 2 * * *",
        utc(2025, 3, 28, 12),
        ["2025-03-29 02:30:00 +0100", "2025-03-30 03:00:00 +0200", "2025-03-31 02:30:00 +0200"],
        id="berlin",
    ),
    pytest.param(
        LORD_HOWE,
        "15 2 * * *",
        utc(2025, 10, 3, 0),
        ["2025-10-04 02:15:00 +1030", "2025-10-05 02:30:00 +1100", "2025-10-06 02:15:00 +1100"],
        id="lord-howe-half-hour",
    ),
    pytest.param(
        APIA,
        "30 3 * * *",
        utc(2012, 9, 28, 0),
        ["2012-09-29 03:30:00 +1300", "2012-09-30 04:00:00 +1400", "2012-10-01 03:30:00 +1400"],
        id="apia-2012",
    ),
    pytest.param(
        APIA,
        "0 0 * * *",
        utc(2010, 9, 24, 12),
        ["2010-09-25 00:00:00 -1100", "2010-09-26 01:00:00 -1000", "2010-09-27 00:00:00 -1000"],
        id="apia-2010-midnight-gap",
    ),
]


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), GAP_DAILY)
def test_daily_time_in_gap_fires_at_gap_end(
    zone: str, expr: str, after: float, expected: list[str]
) -> None:
    assert fires(expr, zone, after, 3) == expected


def test_gap_fire_is_the_transition_instant_in_utc() -> None:
    # 02:30 EST does not exist on 2025-03-09; 03:00 EDT is 07:00 UTC.
    assert cron("30 2 * * *", NY).next_fire(utc(2025, 3, 9, 0)) == utc(2025, 3, 9, 7)


GAP_EVERY_15 = [
    pytest.param(
        NY,
        utc(2025, 3, 9, 6, 40),
        ["2025-03-09 01:45:00 -0500", "2025-03-09 03:00:00 -0400", "2025-03-09 03:15:00 -0400"],
        id="new-york",
    ),
    pytest.param(
        BERLIN,
        utc(2025, 3, 30, 0, 40),
        ["2025-03-30 01:45:00 +0100", "2025-03-30 03:00:00 +0200", "2025-03-30 03:15:00 +0200"],
        id="berlin",
    ),
    pytest.param(
        LORD_HOWE,
        utc(2025, 10, 4, 15, 10),
        ["2025-10-05 01:45:00 +1030", "2025-10-05 02:30:00 +1100", "2025-10-05 02:45:00 +1100"],
        id="lord-howe-half-hour",
    ),
    pytest.param(
        APIA,
        utc(2012, 9, 29, 13, 40),
        ["2012-09-30 02:45:00 +1300", "2012-09-30 04:00:00 +1400", "2012-09-30 04:15:00 +1400"],
        id="apia-2012",
    ),
]


@pytest.mark.parametrize(("zone", "after", "expected"), GAP_EVERY_15)
def test_every_15_minutes_collapses_the_gap_into_one_fire(
    zone: str, after: float, expected: list[str]
) -> None:
    assert fires("*/15 * * * *", zone, after, 3) == expected


def test_several_gap_times_and_the_gap_end_itself_fire_once() -> None:
    # 02:00 and 02:30 do not exist and map to 03:00 EDT, which the expression also names.
    assert fires("0,30 2,3 * * *", NY, utc(2025, 3, 9, 5), 3) == [
        "2025-03-09 03:00:00 -0400",
        "2025-03-09 03:30:00 -0400",
        "2025-03-10 02:00:00 -0400",
    ]


def test_after_equal_to_gap_end_moves_past_it() -> None:
    trigger = cron("30 2 * * *", NY)
    gap_end = utc(2025, 3, 9, 7)
    assert trigger.next_fire(gap_end) == utc(2025, 3, 10, 6, 30)
    assert trigger.next_fire(gap_end - 0.5) == gap_end


def test_apia_skipped_day_2011_12_30() -> None:
    # Apia jumped from 2011-12-29 23:59:59 -10:00 to 2011-12-31 00:00 +14:00.
    assert fires("0 12 * * *", APIA, utc(2011, 12, 29, 12), 3) == [
        "2011-12-29 12:00:00 -1000",
        "2011-12-31 00:00:00 +1400",  # 2011-12-30 12:00 never existed
        "2011-12-31 12:00:00 +1400",
    ]
    # Midnight of the 30th maps to midnight of the 31st: one fire, not two.
    assert fires("0 0 * * *", APIA, utc(2011, 12, 28, 12), 3) == [
        "2011-12-29 00:00:00 -1000",
        "2011-12-31 00:00:00 +1400",
        "2012-01-01 00:00:00 +1400",
    ]
    assert fires("0 0 30 12 *", APIA, utc(2011, 1, 1), 2) == [
        "2011-12-31 00:00:00 +1400",
        "2012-12-30 00:00:00 +1400",
    ]
    assert fires("*/15 * * * *", APIA, utc(2011, 12, 30, 9, 40), 3) == [
        "2011-12-29 23:45:00 -1000",
        "2011-12-31 00:00:00 +1400",
        "2011-12-31 00:15:00 +1400",
    ]


# --- repeated hour (fall back) ---------------------------------------------------------------

OVERLAP_DAILY = [
    pytest.param(
        NY,
        "30 1 * * *",
        utc(2025, 10, 31, 12),
        ["2025-11-01 01:30:00 -0400", "2025-11-02 01:30:00 -0400", "2025-11-03 01:30:00 -0500"],
        id="new-york",
    ),
    pytest.param(
        BERLIN,
        "30 2 * * *",
        utc(2025, 10, 24, 12),
        ["2025-10-25 02:30:00 +0200", "2025-10-26 02:30:00 +0200", "2025-10-27 02:30:00 +0100"],
        id="berlin",
    ),
    pytest.param(
        LORD_HOWE,
        "45 1 * * *",
        utc(2025, 4, 4, 0),
        ["2025-04-05 01:45:00 +1100", "2025-04-06 01:45:00 +1100", "2025-04-07 01:45:00 +1030"],
        id="lord-howe-half-hour",
    ),
    pytest.param(
        APIA,
        "30 3 * * *",
        utc(2012, 3, 30, 0),
        ["2012-03-31 03:30:00 +1400", "2012-04-01 03:30:00 +1400", "2012-04-02 03:30:00 +1300"],
        id="apia-2012",
    ),
]


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), OVERLAP_DAILY)
def test_daily_time_in_repeated_hour_fires_once_at_first_occurrence(
    zone: str, expr: str, after: float, expected: list[str]
) -> None:
    assert fires(expr, zone, after, 3) == expected


OVERLAP_EVERY_15 = [
    pytest.param(
        NY,
        utc(2025, 11, 2, 4, 40),
        [
            "2025-11-02 00:45:00 -0400",
            "2025-11-02 01:00:00 -0400",
            "2025-11-02 01:15:00 -0400",
            "2025-11-02 01:30:00 -0400",
            "2025-11-02 01:45:00 -0400",
            "2025-11-02 02:00:00 -0500",
        ],
        id="new-york",
    ),
    pytest.param(
        BERLIN,
        utc(2025, 10, 26, 0, 10),
        [
            "2025-10-26 02:15:00 +0200",
            "2025-10-26 02:30:00 +0200",
            "2025-10-26 02:45:00 +0200",
            "2025-10-26 03:00:00 +0100",
            "2025-10-26 03:15:00 +0100",
            "2025-10-26 03:30:00 +0100",
        ],
        id="berlin",
    ),
    pytest.param(
        LORD_HOWE,
        utc(2025, 4, 5, 14, 20),
        [
            "2025-04-06 01:30:00 +1100",
            "2025-04-06 01:45:00 +1100",
            "2025-04-06 02:00:00 +1030",
            "2025-04-06 02:15:00 +1030",
            "2025-04-06 02:30:00 +1030",
            "2025-04-06 02:45:00 +1030",
        ],
        id="lord-howe-half-hour",
    ),
    pytest.param(
        APIA,
        utc(2012, 3, 31, 13, 10),
        [
            "2012-04-01 03:15:00 +1400",
            "2012-04-01 03:30:00 +1400",
            "2012-04-01 03:45:00 +1400",
            "2012-04-01 04:00:00 +1300",
            "2012-04-01 04:15:00 +1300",
            "2012-04-01 04:30:00 +1300",
        ],
        id="apia-2012",
    ),
]


@pytest.mark.parametrize(("zone", "after", "expected"), OVERLAP_EVERY_15)
def test_every_15_minutes_skips_the_second_pass_of_the_repeated_hour(
    zone: str, after: float, expected: list[str]
) -> None:
    assert fires("*/15 * * * *", zone, after, 6) == expected


SECOND_PASS = [
    # zone, expr, an instant inside the second pass, the next fire expected
    pytest.param(NY, "30 1 * * *", utc(2025, 11, 2, 6, 10), "2025-11-03 01:30:00 -0500", id="ny"),
    pytest.param(
        NY, "*/15 * * * *", utc(2025, 11, 2, 6, 20), "2025-11-02 02:00:00 -0500", id="ny-15"
    ),
    pytest.param(
        BERLIN,
        "*/15 * * * *",
        utc(2025, 10, 26, 1, 20),
        "2025-10-26 03:00:00 +0100",
        id="berlin-15",
    ),
    pytest.param(
        LORD_HOWE,
        "*/5 * * * *",
        utc(2025, 4, 5, 15, 10),
        "2025-04-06 02:00:00 +1030",
        id="lord-howe-5",
    ),
    pytest.param(
        APIA, "30 3 * * *", utc(2012, 3, 31, 14, 40), "2012-04-02 03:30:00 +1300", id="apia"
    ),
]


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), SECOND_PASS)
def test_nothing_fires_for_wall_times_already_seen_in_the_first_pass(
    zone: str, expr: str, after: float, expected: str
) -> None:
    assert fires(expr, zone, after, 1) == [expected]


def test_first_occurrence_is_the_earlier_utc_instant() -> None:
    # 01:30 on 2025-11-02 in New York is 05:30 UTC (EDT) and again 06:30 UTC (EST).
    assert cron("30 1 * * *", NY).next_fire(utc(2025, 11, 2, 0)) == utc(2025, 11, 2, 5, 30)


def test_apia_no_longer_shifts_after_2021() -> None:
    assert fires("30 3 * * *", APIA, utc(2022, 3, 30, 12), 3) == [
        "2022-03-31 03:30:00 +1300",
        "2022-04-01 03:30:00 +1300",
        "2022-04-02 03:30:00 +1300",
    ]
