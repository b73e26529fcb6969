"""Parse a cron expression into plain sets, rejecting anything ambiguous with a usable reason.

Dialect: 5 fields (minute hour day-of-month month day-of-week) or 6 with a leading seconds
field; ``*``, ranges, steps, lists, month and weekday names, ``?`` as ``*`` in the day fields,
``L``/``L-n``/``LW``/``nW`` in day-of-month, ``nL`` and ``n#k`` in day-of-week, and the
``@daily``-style aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from horae.errors import InvalidInput

EXPR_FIELD = "trigger.expr"
MAX_EXPRESSION_LENGTH = 1024

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_NUMBER = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class _FieldKind:
    label: str
    low: int
    high: int
    names: dict[str, int]
    # The largest value ``*`` and open-ended steps (``5/10``) reach; differs from ``high``
    # only for day-of-week, where 7 is an alias of Sunday and must not be counted twice.
    star_high: int


SECOND = _FieldKind("second", 0, 59, {}, 59)
MINUTE = _FieldKind("minute", 0, 59, {}, 59)
HOUR = _FieldKind("hour", 0, 23, {}, 23)
DAY_OF_MONTH = _FieldKind("day-of-month", 1, 31, {}, 31)
MONTH = _FieldKind("month", 1, 12, {name: i + 1 for i, name in enumerate(MONTH_NAMES)}, 12)
DAY_OF_WEEK = _FieldKind("day-of-week", 0, 7, {name: i for i, name in enumerate(WEEKDAY_NAMES)}, 6)


@dataclass(frozen=True)
class DayOfMonthRule:
    days: frozenset[int]
    from_last: frozenset[int]  # L -> 0, L-3 -> 3: that many days before the month's last day
    last_weekday: bool  # LW: last Monday..Friday of the month
    nearest_weekday: frozenset[int]  # 15W -> 15: Monday..Friday nearest that day, same month
    unrestricted: bool  # field starts with * or ? (Vixie's DOM_STAR)


@dataclass(frozen=True)
class DayOfWeekRule:
    weekdays: frozenset[int]  # 0 = Sunday
    last_in_month: frozenset[int]  # 5L -> 5: last Friday of the month
    nth_in_month: frozenset[tuple[int, int]]  # 1#2 -> (1, 2): second Monday
    unrestricted: bool  # field starts with * or ? (Vixie's DOW_STAR)


@dataclass(frozen=True)
class CronFields:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day_of_month: DayOfMonthRule
    day_of_week: DayOfWeekRule


def _reject(kind: _FieldKind, text: str, why: str) -> InvalidInput:
    return InvalidInput(EXPR_FIELD, f"{kind.label} field {text!r}: {why}")


def expand_alias(expr: str) -> str:
    """The 5-field form of an ``@alias``; other expressions come back stripped."""
    text = expr.strip()
    if not text.startswith("@"):
        return text
    alias = text.lower()
    if alias == "@reboot":
        raise InvalidInput(
            EXPR_FIELD,
            "@reboot means 'when the machine boots', which is not a time Horae can compute; "
            "use a date trigger or run the task now instead",
        )
    if alias not in ALIASES:
        known = ", ".join(ALIASES)
        raise InvalidInput(EXPR_FIELD, f"unknown alias {text!r}; use one of {known}")
    return ALIASES[alias]


def parse_cron(expr: str) -> CronFields:
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise InvalidInput(
            EXPR_FIELD,
            f"expression is {len(expr)} characters long; the limit is {MAX_EXPRESSION_LENGTH}",
        )
    parts = expand_alias(expr).split()
    if len(parts) not in (5, 6):
        hint = " (a year field is not supported)" if len(parts) == 7 else ""
        raise InvalidInput(
            EXPR_FIELD,
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 with a "
            f"leading seconds field, got {len(parts)}{hint}",
        )
    seconds = _parse_plain(parts.pop(0), SECOND) if len(parts) == 6 else frozenset({0})
    minute, hour, dom, month, dow = parts
    return CronFields(
        seconds=seconds,
        minutes=_parse_plain(minute, MINUTE),
        hours=_parse_plain(hour, HOUR),
        months=_parse_plain(month, MONTH),
        day_of_month=_parse_day_of_month(dom),
        day_of_week=_parse_day_of_week(dow),
    )


def _parse_plain(text: str, kind: _FieldKind) -> frozenset[int]:
    if text == "?":
        raise _reject(kind, text, "'?' is only allowed in the day-of-month and day-of-week fields")
    values: set[int] = set()
    for item in _split_items(text, kind):
        values |= _parse_range_item(item, text, kind)
    return frozenset(values)


def _split_items(text: str, kind: _FieldKind) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise _reject(kind, text, "empty item in the list; remove the extra comma")
    return items


def _parse_range_item(item: str, text: str, kind: _FieldKind) -> set[int]:
    """``*``, ``a``, ``a-b`` with an optional ``/step``."""
    body, has_step, step_text = item.partition("/")
    step = _parse_step(step_text, text, kind) if has_step else 1
    if body == "*":
        low, high = kind.low, kind.star_high
    elif "-" in body:
        start, _, end = body.partition("-")
        low, high = _parse_value(start, text, kind), _parse_value(end, text, kind)
        if kind is DAY_OF_WEEK and high == 0 and low > 0:
            high = 7  # FRI-SUN: Sunday closes the week here, it does not open it
        if low > high:
            raise _reject(
                kind,
                text,
                f"range {body!r} runs backwards; split it, e.g. "
                f"'{low}-{kind.high},{kind.low}-{high}'",
            )
    else:
        low = _parse_value(body, text, kind)
        high = kind.star_high if has_step else low
    values = set(range(low, high + 1, step))
    if kind is DAY_OF_WEEK and 7 in values:
        values = (values - {7}) | {0}
    return values


def _parse_step(step_text: str, text: str, kind: _FieldKind) -> int:
    size = kind.star_high - kind.low + 1
    if not _NUMBER.fullmatch(step_text) or not 1 <= int(step_text) <= size:
        raise _reject(kind, text, f"step {step_text!r} must be a whole number from 1 to {size}")
    return int(step_text)


def _parse_value(token: str, text: str, kind: _FieldKind) -> int:
    if _NUMBER.fullmatch(token):
        value = int(token)
        if not kind.low <= value <= kind.high:
            raise _reject(kind, text, f"value {value} is out of range {kind.low}-{kind.high}")
        return value
    name = token.upper()
    if name in kind.names:
        return kind.names[name]
    if not token:
        raise _reject(kind, text, "a range or step is missing a number")
    expected = f"a number {kind.low}-{kind.high}"
    if kind.names:
        expected += f" or a name like {next(iter(kind.names))}"
    raise _reject(kind, text, f"{token!r} is not {expected}")


def _parse_day_of_month(text: str) -> DayOfMonthRule:
    kind = DAY_OF_MONTH
    if text == "?":
        text = "*"
    days: set[int] = set()
    from_last: set[int] = set()
    nearest: set[int] = set()
    last_weekday = False
    for item in _split_items(text, kind):
        upper = item.upper()
        if upper == "L":
            from_last.add(0)
        elif upper.startswith("L-"):
            offset = upper[2:]
            if not _NUMBER.fullmatch(offset) or int(offset) > 30:
                raise _reject(kind, text, f"{item!r}: L-n needs n from 0 to 30")
            from_last.add(int(offset))
        elif upper == "LW":
            last_weekday = True
        elif upper == "W":
            raise _reject(
                kind, text, "'W' needs a day before it, e.g. 15W (weekday nearest the 15th)"
            )
        elif upper.endswith("W"):
            nearest.add(_parse_value(upper[:-1], text, kind))
        else:
            days |= _parse_range_item(item, text, kind)
    return DayOfMonthRule(
        days=frozenset(days),
        from_last=frozenset(from_last),
        last_weekday=last_weekday,
        nearest_weekday=frozenset(nearest),
        unrestricted=text.startswith("*"),
    )


def _parse_day_of_week(text: str) -> DayOfWeekRule:
    kind = DAY_OF_WEEK
    if text == "?":
        text = "*"
    weekdays: set[int] = set()
    last_in_month: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _split_items(text, kind):
        upper = item.upper()
        if upper == "L":
            raise _reject(
                kind,
                text,
                "'L' alone is ambiguous here; write 5L for the last Friday, or put "
                "L in the day-of-month field for the month's last day",
            )
        if upper.endswith("L"):
            last_in_month.add(_parse_value(upper[:-1], text, kind) % 7)
        elif "#" in upper:
            day, _, ordinal = upper.partition("#")
            if not _NUMBER.fullmatch(ordinal) or not 1 <= int(ordinal) <= 5:
                raise _reject(kind, text, f"{item!r}: after '#' give 1 to 5 (which occurrence)")
            nth.add((_parse_value(day, text, kind) % 7, int(ordinal)))
        else:
            weekdays |= _parse_range_item(item, text, kind)
    return DayOfWeekRule(
        weekdays=frozenset(weekdays),
        last_in_month=frozenset(last_in_month),
        nth_in_month=frozenset(nth),
        unrestricted=text.startswith("*"),
    )
