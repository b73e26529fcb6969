"""Bad cron input is refused with InvalidInput naming the field and the reason; hostile but
valid expressions still answer quickly (bounded search, no timing assertion)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import pytest

from horae.errors import InvalidInput
from horae.triggers import cron

from .helpers import utc, walk


@pytest.mark.parametrize(
    ("expr", "in_reason"),
    [
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "year field is not supported"),
        ("60 * * * *", "minute field '60': value 60 is out of range 0-59"),
        ("-1 * * * *", "minute field"),
        ("* 24 * * *", "hour field '24'"),
        ("* * 0 * *", "day-of-month field '0'"),
        ("* * 32 * *", "day-of-month field '32'"),
        ("* * * 13 *", "month field '13'"),
        ("* * * 0 *", "month field '0'"),
        ("* * * * 8", "day-of-week field '8'"),
        ("60 * * * * *", "second field '60'"),
        ("*/0 * * * *", "step '0'"),
        ("*/x * * * *", "step 'x'"),
        ("*/61 * * * *", "step '61'"),
        ("1-5/ * * * *", "step ''"),
        ("1,,2 * * * *", "empty item"),
        ("1, * * * *", "empty item"),
        ("50-10 * * * *", "runs backwards"),
        ("5- * * * *", "missing a number"),
        ("* * * FOO *", "'FOO' is not a number 1-12 or a name like JAN"),
        ("* * * * FUNDAY", "day-of-week field"),
        ("? * * * *", "'?' is only allowed in the day-of-month and day-of-week fields"),
        ("0 0 * * L", "'L' alone is ambiguous"),
        ("0 0 * * 1#6", "1 to 5"),
        ("0 0 * * 1#0", "1 to 5"),
        ("0 0 L-31 * *", "L-n needs n from 0 to 30"),
        ("0 0 32W * *", "out of range"),
        ("0 0 0W * *", "out of range"),
        ("0 0 W * *", "'W' needs a day before it"),
        ("\u00b2 * * * *", "is not a number"),  # superscript two is not an ASCII digit
        ("H * * * *", "is not a number"),
        ("@reboot", "@reboot"),
        ("@often", "unknown alias"),
        ("0 0 1 1 * 2030", "day-of-week field"),  # 6 fields: the leading one is seconds
        ("1 " * 600, "characters long"),
    ],
)
def test_invalid_expression_names_field_and_reason(expr: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        cron(expr)
    assert caught.value.field == "trigger.expr"
    assert in_reason in caught.value.reason


@pytest.mark.parametrize("expr", ["", "   ", None, 5, ["* * * * *"]])
def test_missing_or_non_text_expression(expr: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        cron(expr)  # type: ignore[arg-type]
    assert caught.value.field == "trigger.expr"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "  ", None, 5, "../etc/passwd", "/etc"])
def test_unknown_zone(zone: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        cron("* * * * *", zone)  # type: ignore[arg-type]
    assert caught.value.field == "trigger.tz"
    assert "IANA" in caught.value.reason


@pytest.mark.parametrize(
    ("expr", "in_reason"),
    [
        ("0 0 30 2 *", "day 30 of February never occurs: this expression can never fire"),
        ("0 0 30,31 2 *", "days 30, 31 of February never occur: this"),
        ("0 0 31 4,6,9,11 *", "day 31 of April, June, September, November never occurs"),
        ("0 0 L-30 2 *", "can never fire"),
        ("0 0 31W 2,4 *", "can never fire"),
        ("0 0 */29 2 5#5", "can never fire"),  # days 1 and 30 AND the 5th Friday (29th)
        ("0 0 0 30 FEB ?", "can never fire"),
    ],
)
def test_expression_that_can_never_fire_is_rejected(expr: str, in_reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        cron(expr)
    assert caught.value.field == "trigger.expr"
    assert in_reason in caught.value.reason


@pytest.mark.parametrize(
    "expr",
    ["0 0 29 2 *", "0 0 L-28 2 *", "0 0 ? 2 5#5", "0 0 */7 2 5#5", "0 0 29 2 1", "0 0 31 * *"],
)
def test_rare_but_possible_expressions_are_accepted(expr: str) -> None:
    assert cron(expr).next_fire(utc(2025, 1, 1)) is not None


HOSTILE = [
    "*/1 */1 L 2 5#5",
    "0 0 29 2 1",
    "0 0 */7 2 5#5",  # Feb 29 on a Friday: decades apart
    "0 0 ? 2 5#5",  # February with five Fridays
    "59 59 23 29 2 ?",
    "* * * * * *",
    "0 0 L-28 2 *",
    "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29 * * * *",
]


@pytest.mark.parametrize("expr", HOSTILE)
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Pacific/Apia"])
def test_hostile_expressions_finish(expr: str, zone: str) -> None:
    fires = walk(cron(expr, zone), utc(1995, 3, 1), 20)
    assert len(fires) == 20
    assert fires == sorted(set(fires))


def test_february_29_on_a_friday_is_found_decades_ahead() -> None:
    expected = [
        f"{year}-02-29"
        for year in range(2025, 2200)
        if calendar.isleap(year) and date(year, 2, 29).weekday() == calendar.FRIDAY
    ]
    assert expected[:4] == ["2036-02-29", "2064-02-29", "2092-02-29", "2104-02-29"]  # 2100 breaks
    fires = walk(cron("0 0 */7 2 5#5"), utc(2025, 1, 1), len(expected))
    assert [datetime.fromtimestamp(f, UTC).date().isoformat() for f in fires] == expected
