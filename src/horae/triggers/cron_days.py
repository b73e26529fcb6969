"""Which days of a month a cron expression's day fields select.

A month's matching days depend only on its length and the weekday of its 1st: 4 lengths x 7
weekdays = 28 shapes. That makes two things cheap and exact:
- the search caches one lookup table per shape instead of testing days one by one;
- "can this expression ever fire?" is answered by trying every shape each allowed month can
  take (every (length, first weekday) pair occurs within the 400-year Gregorian cycle).
"""

from __future__ import annotations

from collections.abc import Iterable

from horae.triggers.civil import possible_month_lengths
from horae.triggers.cron_parser import CronFields, DayOfMonthRule, DayOfWeekRule

NO_DAY = -1
NextDayTable = tuple[int, ...]
"""``table[d]`` = first matching day >= d, or NO_DAY; indices 0..32 so day + 1 never overflows."""

_SATURDAY, _SUNDAY = 6, 0
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _weekday(first_weekday: int, day: int) -> int:
    return (first_weekday + day - 1) % 7


def _nearest_weekday(day: int, length: int, first_weekday: int) -> int:
    """Quartz ``nW``: the Monday..Friday nearest ``day`` without leaving the month."""
    weekday = _weekday(first_weekday, day)
    if weekday == _SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == _SUNDAY:
        return day + 1 if day < length else day - 2
    return day


def _day_of_month_matches(rule: DayOfMonthRule, length: int, first_weekday: int) -> set[int]:
    days = {day for day in rule.days if day <= length}
    days |= {length - offset for offset in rule.from_last if length - offset >= 1}
    if rule.last_weekday:
        days.add(_nearest_weekday(length, length, first_weekday))
    days |= {
        _nearest_weekday(day, length, first_weekday)
        for day in rule.nearest_weekday
        if day <= length
    }
    return days


def _day_of_week_matches(rule: DayOfWeekRule, length: int, first_weekday: int) -> set[int]:
    days = {day for day in range(1, length + 1) if _weekday(first_weekday, day) in rule.weekdays}
    last_weekday_of_month = _weekday(first_weekday, length)
    days |= {length - (last_weekday_of_month - w) % 7 for w in rule.last_in_month}
    for weekday, ordinal in rule.nth_in_month:
        day = 1 + (weekday - first_weekday) % 7 + 7 * (ordinal - 1)
        if day <= length:
            days.add(day)
    return days


def matching_days(fields: CronFields, length: int, first_weekday: int) -> set[int]:
    """Days 1..length selected by the day-of-month and day-of-week fields together."""
    by_dom = _day_of_month_matches(fields.day_of_month, length, first_weekday)
    by_dow = _day_of_week_matches(fields.day_of_week, length, first_weekday)
    # Vixie cron: if either field starts with '*' both must match (the starred one matches
    # the days its step selects, usually all); if both are restricted, either may match.
    if fields.day_of_month.unrestricted or fields.day_of_week.unrestricted:
        return by_dom & by_dow
    return by_dom | by_dow


def next_day_table(days: Iterable[int]) -> NextDayTable:
    table = [NO_DAY] * 33
    following = NO_DAY
    chosen = set(days)
    for day in range(32, 0, -1):
        if day in chosen:
            following = day
        table[day] = following
    table[0] = following
    return tuple(table)


def impossible_reason(fields: CronFields, expr: str) -> str | None:
    """Why no day ever matches, or None when some day in some year does."""
    for month in fields.months:
        for length in possible_month_lengths(month):
            for first_weekday in range(7):
                if matching_days(fields, length, first_weekday):
                    return None
    months = ", ".join(_MONTHS[m - 1] for m in sorted(fields.months))
    dom = fields.day_of_month
    plain_days_only = (
        fields.day_of_week.unrestricted
        and not (dom.from_last or dom.nearest_weekday or dom.last_weekday)
        and dom.days
    )
    if plain_days_only:
        days = ", ".join(str(d) for d in sorted(dom.days))
        subject = f"day {days}" if len(dom.days) == 1 else f"days {days}"
        verb = "occurs" if len(dom.days) == 1 else "occur"
        return f"{subject} of {months} never {verb}: this expression can never fire"
    return (
        f"no day in {months} matches the day fields of {expr.strip()!r}: "
        "this expression can never fire"
    )
