"""What a cron expression means, item by item, as the sentences for people say it.

``parse_cron`` reduces each field to a set, which is what the engine needs but loses what a
person wrote: ``5/10`` and ``5,15,25,35,45,55`` become the same set. Descriptions need the
items (a step and its start, ``L-3``, ``LW``, ``1#2``) and how the two day fields combine,
so this module keeps them. ``CronMeaning.matches`` evaluates that structure with the
standard library's calendar alone, so tests can check the structure the sentences are
rendered from against the engine's fires.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from horae.triggers.cron_parser import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    _FieldKind,
    expand_alias,
    parse_cron,
)

SpanForm = Literal["all", "every", "from", "range", "value"]


@dataclass(frozen=True)
class Span:
    """``*`` (all), ``*/n`` (every), ``a/n`` (from), ``a-b[/n]`` (range) or ``a`` (value)."""

    form: SpanForm
    start: int
    end: int
    step: int = 1

    def values(self) -> tuple[int, ...]:
        return tuple(range(self.start, self.end + 1, self.step))

    @property
    def is_all(self) -> bool:
        return self.form in ("all", "every") and self.step == 1


@dataclass(frozen=True)
class LastDay:
    """``L`` (offset 0) or ``L-n``: n days before the month's last day."""

    offset: int


@dataclass(frozen=True)
class LastWeekday:
    """``LW``: the month's last Monday..Friday."""


@dataclass(frozen=True)
class NearestWeekday:
    """``nW``: the Monday..Friday nearest day n, without leaving the month."""

    day: int


@dataclass(frozen=True)
class LastOfMonth:
    """``nL``: the month's last weekday n (0 = Sunday)."""

    weekday: int


@dataclass(frozen=True)
class NthOfMonth:
    """``n#k``: the month's k-th weekday n."""

    weekday: int
    ordinal: int


DayOfMonthItem = Span | LastDay | LastWeekday | NearestWeekday
DayOfWeekItem = Span | LastOfMonth | NthOfMonth


@dataclass(frozen=True)
class CronMeaning:
    seconds: tuple[Span, ...]
    minutes: tuple[Span, ...]
    hours: tuple[Span, ...]
    days_of_month: tuple[DayOfMonthItem, ...]
    months: tuple[Span, ...]
    weekdays: tuple[DayOfWeekItem, ...]
    # Vixie cron: when either day field starts with '*' (or is '?') a day must match both;
    # when both are restricted it must match either.
    days_combine: Literal["both", "either"]
    has_seconds_field: bool

    @property
    def any_day_of_month(self) -> bool:
        """The field alone selects every day ('*' anywhere in its list)."""
        return any(isinstance(i, Span) and i.is_all for i in self.days_of_month)

    @property
    def any_weekday(self) -> bool:
        return any(isinstance(i, Span) and i.is_all for i in self.weekdays)

    def matches(self, wall: datetime) -> bool:
        """Whether the wall time is one the expression selects (the engine's answer too)."""
        return (
            _in_spans(wall.second, self.seconds)
            and _in_spans(wall.minute, self.minutes)
            and _in_spans(wall.hour, self.hours)
            and self.matches_day(wall.date())
        )

    def matches_day(self, day: date) -> bool:
        if not _in_spans(day.month, self.months):
            return False
        by_dom = any(_dom_matches(item, day) for item in self.days_of_month)
        by_dow = any(_dow_matches(item, day) for item in self.weekdays)
        return (by_dom and by_dow) if self.days_combine == "both" else (by_dom or by_dow)


def cron_meaning(expr: str) -> CronMeaning:
    """The meaning of a valid expression (``parse_cron`` refuses invalid ones first)."""
    parse_cron(expr)
    parts = expand_alias(expr).split()
    has_seconds_field = len(parts) == 6
    seconds = _spans(parts.pop(0), SECOND) if has_seconds_field else (Span("value", 0, 0),)
    minute, hour, dom, month, dow = parts
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else dow
    starred = dom.startswith("*") or dow.startswith("*")
    return CronMeaning(
        seconds=seconds,
        minutes=_spans(minute, MINUTE),
        hours=_spans(hour, HOUR),
        days_of_month=tuple(_dom_item(item) for item in dom.split(",")),
        months=_spans(month, MONTH),
        weekdays=tuple(_dow_item(item) for item in dow.split(",")),
        days_combine="both" if starred else "either",
        has_seconds_field=has_seconds_field,
    )


def _spans(text: str, kind: _FieldKind) -> tuple[Span, ...]:
    return tuple(_span(item, kind) for item in text.split(","))


def _span(item: str, kind: _FieldKind) -> Span:
    body, has_step, step_text = item.partition("/")
    step = int(step_text) if has_step else 1
    if body == "*":
        return Span("every" if has_step else "all", kind.low, kind.star_high, step)
    if "-" in body:
        start_text, _, end_text = body.partition("-")
        start, end = _value(start_text, kind), _value(end_text, kind)
        if kind is DAY_OF_WEEK and end == 0 and start > 0:
            end = 7  # FRI-SUN ends on Sunday (7), as the parser reads it
        return Span("range", start, end, step)
    start = _value(body, kind)
    if has_step:
        return Span("from", start, kind.star_high, step)
    return Span("value", start, start)


def _value(token: str, kind: _FieldKind) -> int:
    upper = token.upper()
    return kind.names[upper] if upper in kind.names else int(token)


def _dom_item(item: str) -> DayOfMonthItem:
    upper = item.upper()
    if upper == "L":
        return LastDay(0)
    if upper.startswith("L-"):
        return LastDay(int(upper[2:]))
    if upper == "LW":
        return LastWeekday()
    if upper.endswith("W"):
        return NearestWeekday(int(upper[:-1]))
    return _span(item, DAY_OF_MONTH)


def _dow_item(item: str) -> DayOfWeekItem:
    upper = item.upper()
    if upper.endswith("L"):
        return LastOfMonth(_value(upper[:-1], DAY_OF_WEEK) % 7)
    if "#" in upper:
        day, _, ordinal = upper.partition("#")
        return NthOfMonth(_value(day, DAY_OF_WEEK) % 7, int(ordinal))
    return _span(item, DAY_OF_WEEK)


# -- evaluation, from the calendar module alone ------------------------------------------


def _in_spans(value: int, spans: tuple[Span, ...]) -> bool:
    return any(value in span.values() for span in spans)


def _cron_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7  # date: Monday = 0; cron: Sunday = 0


def _month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _weekday_nearest(target: int, day: date) -> int:
    length = _month_length(day)
    weekday = date(day.year, day.month, target).weekday()
    if weekday == calendar.SATURDAY:
        return target - 1 if target > 1 else target + 2
    if weekday == calendar.SUNDAY:
        return target + 1 if target < length else target - 2
    return target


def _dom_matches(item: DayOfMonthItem, day: date) -> bool:
    length = _month_length(day)
    if isinstance(item, Span):
        return day.day in item.values()
    if isinstance(item, LastDay):
        return day.day == length - item.offset
    if isinstance(item, LastWeekday):
        return day.day == _weekday_nearest(length, day)
    return item.day <= length and day.day == _weekday_nearest(item.day, day)


def _dow_matches(item: DayOfWeekItem, day: date) -> bool:
    weekday = _cron_weekday(day)
    if isinstance(item, Span):
        return any(value % 7 == weekday for value in item.values())
    if isinstance(item, LastOfMonth):
        return weekday == item.weekday and day.day + 7 > _month_length(day)
    return weekday == item.weekday and (day.day - 1) // 7 + 1 == item.ordinal
