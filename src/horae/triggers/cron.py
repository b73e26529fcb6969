"""Cron triggers: the next matching wall time in a zone, found by jumping field by field.

The search never steps minute by minute. From a starting wall time it jumps to the next
allowed month, then to the next matching day of that month (a cached per-month-shape table),
then hour, minute and second (lookup tables). Each miss moves one level up and restarts the
lower levels at their first value, so a call costs a handful of table lookups, and an
expression's rarest case (e.g. Feb 29 on a Friday) costs one step per allowed month per year.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.civil import (
    MAX_YEAR,
    MIN_YEAR,
    WallTime,
    days_from_civil,
    days_in_month,
    seconds_to_wall,
    wall_to_seconds,
)
from horae.triggers.cron_days import (
    NO_DAY,
    NextDayTable,
    impossible_reason,
    matching_days,
    next_day_table,
)
from horae.triggers.cron_parser import EXPR_FIELD, parse_cron
from horae.triggers.descriptions import describe_cron
from horae.triggers.wall_clock import UTC_KEYS, ZoneClock, load_zone

_NONE = -1
_EARLIEST = wall_to_seconds((MIN_YEAR, 1, 1, 0, 0, 0)) + 14 * 3600  # past every zone's offset
_LATEST = wall_to_seconds((MAX_YEAR, 12, 31, 23, 59, 59)) - 14 * 3600
# A valid expression matches some day in every 400-year Gregorian cycle; 12 month steps per
# year plus a few hour/minute/second carries per matching day stay far below this bound.
_MAX_STEPS = 401 * 12 * 8
_MONTH_CACHE_SIZE = 256


def _next_value_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """``table[v]`` = smallest allowed value >= v, or _NONE; one spare slot for carries."""
    table = [_NONE] * (size + 1)
    following = _NONE
    for value in range(size - 1, -1, -1):
        if value in values:
            following = value
        table[value] = following
    return tuple(table)


class CronTrigger(Trigger):
    """Fires at the wall times a cron expression selects, in an IANA zone."""

    kind: ClassVar[str] = "cron"

    def __init__(self, expr: str, tz: str = "UTC") -> None:
        if not isinstance(expr, str) or not expr.strip():
            raise InvalidInput(EXPR_FIELD, "give a cron expression such as '0 2 * * *'")
        self.expr = expr.strip()
        zone = load_zone(tz)
        self.tz: str = tz
        fields = parse_cron(self.expr)
        reason = impossible_reason(fields, self.expr)
        if reason is not None:
            raise InvalidInput(EXPR_FIELD, reason)
        self._fields = fields
        self._clock = None if tz in UTC_KEYS else ZoneClock(zone)
        self._seconds = _next_value_table(fields.seconds, 60)
        self._minutes = _next_value_table(fields.minutes, 60)
        self._hours = _next_value_table(fields.hours, 24)
        self._months = _next_value_table(fields.months, 13)
        # Day tables per month shape (28 at most), and per calendar month as a shortcut.
        self._shape_tables: dict[tuple[int, int], NextDayTable] = {}
        self._month_tables: dict[int, NextDayTable] = {}

    def next_fire(self, after: float) -> float | None:
        if math.isnan(after) or after >= _LATEST:
            return None
        # Fires fall on whole seconds, so "after a fraction" equals "after its floor".
        start = _EARLIEST if after < _EARLIEST else math.floor(after)
        clock = self._clock
        if clock is None:
            year, month, day, hour, minute, second = seconds_to_wall(start)
            wall = self._next_wall((year, month, day, hour, minute, second + 1))
            return None if wall is None else float(wall_to_seconds(wall))
        wall = self._next_wall(clock.earliest_wall_firing_after(start))
        if wall is None:
            return None
        return float(clock.fire_instant(wall))

    def describe(self, locale: str = "en") -> str:
        return describe_cron(self.expr, self.tz, locale)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "expr": self.expr, "tz": self.tz}

    def _days_of(self, year: int, month: int) -> NextDayTable:
        month_key = year * 16 + month
        table = self._month_tables.get(month_key)
        if table is not None:
            return table
        length = days_in_month(year, month)
        first_weekday = (days_from_civil(year, month, 1) + 4) % 7  # 0 = Sunday
        shape = (length, first_weekday)
        table = self._shape_tables.get(shape)
        if table is None:
            table = next_day_table(matching_days(self._fields, length, first_weekday))
            self._shape_tables[shape] = table
        if len(self._month_tables) >= _MONTH_CACHE_SIZE:
            self._month_tables.clear()  # a scheduler walks forward; old months are not revisited
        self._month_tables[month_key] = table
        return table

    def _next_wall(self, wall: WallTime) -> WallTime | None:
        """Smallest matching wall time >= ``wall`` (whose fields may overflow by one)."""
        year, month, day, hour, minute, second = wall
        months = self._months
        for _ in range(_MAX_STEPS):
            if year > MAX_YEAR:
                return None
            found = months[month]
            if found == _NONE:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0
            found = self._days_of(year, month)[day]
            if found == NO_DAY:
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0
            time_of_day = self._time_of_day_from(hour, minute, second)
            if time_of_day is None:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            return year, month, day, *time_of_day
        return None  # pragma: no cover - unreachable for expressions that passed validation

    def _time_of_day_from(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """First allowed (hour, minute, second) >= the given one on the same day."""
        next_hour = self._hours[hour]
        if next_hour == hour:
            next_minute = self._minutes[minute]
            if next_minute == minute:
                next_second = self._seconds[second]
                if next_second != _NONE:
                    return hour, minute, next_second
                next_minute = self._minutes[minute + 1]
            if next_minute != _NONE:
                return hour, next_minute, self._seconds[0]
            next_hour = self._hours[hour + 1]
        if next_hour == _NONE:
            return None
        return next_hour, self._minutes[0], self._seconds[0]


def cron(expr: str, tz: str = "UTC") -> CronTrigger:
    """A cron trigger; see docs/triggers.md for the dialect and the DST rule."""
    return CronTrigger(expr, tz)
