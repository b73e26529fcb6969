"""Interval triggers: every N seconds of elapsed time, counted from an anchor.

Elapsed time, not wall time: a 1-hour interval fires every 3600 s straight through DST
changes (DESIGN.md, "Semantics"). Use cron for "every day at 02:00 local".
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, ClassVar

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.descriptions import describe_period
from horae.triggers.instants import check_instant, instant_from_datetime

SECONDS_FIELD = "trigger.seconds"
# Shorter periods are busy loops, not schedules; longer ones leave datetime's range.
MIN_PERIOD = 0.001
MAX_PERIOD = 100 * 366 * 86_400.0

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")


def parse_duration(text: str, field: str = "every") -> float:
    """Seconds in "30s", "5m", "1h30m", "2d", "500ms", "1.5h" (units ms s m h d w)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, "give a duration such as '30s', '5m', '1h30m' or '500ms'")
    total = 0.0
    seen: set[str] = set()
    position = 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            raise InvalidInput(
                field,
                f"cannot read {text!r} as a duration; write a number and a unit, e.g. "
                "'30s', '5m', '1h30m' (units: ms, s, m, h, d, w)",
            )
        amount, unit = match.groups()
        if unit not in _UNIT_SECONDS:
            raise InvalidInput(
                field, f"unknown unit {unit!r} in {text!r}; use ms, s, m, h, d or w (lowercase)"
            )
        if unit in seen:
            raise InvalidInput(field, f"unit {unit!r} appears twice in {text!r}")
        seen.add(unit)
        total += float(amount) * _UNIT_SECONDS[unit]
        position = match.end()
    if total <= 0:
        raise InvalidInput(field, f"{text!r} is zero; the duration must be greater than zero")
    if not math.isfinite(total):
        raise InvalidInput(field, f"{text!r} is too long to be a duration")
    return total


def check_period(seconds: object, field: str = SECONDS_FIELD) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidInput(field, f"expected a number of seconds, got {type(seconds).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInput(field, f"the period must be greater than zero, got {seconds!r}")
    if not MIN_PERIOD <= seconds <= MAX_PERIOD:
        raise InvalidInput(
            field,
            f"the period must be between {MIN_PERIOD} s and {MAX_PERIOD:.0f} s (100 years), "
            f"got {seconds!r}",
        )
    return float(seconds)


class IntervalTrigger(Trigger):
    """Fires at ``anchor + k * seconds`` (k = 0, 1, 2, ...)."""

    kind: ClassVar[str] = "interval"

    def __init__(self, seconds: float, anchor: float | None = None) -> None:
        self.seconds = check_period(seconds)
        self.anchor = None if anchor is None else check_instant(anchor, "trigger.anchor")

    def next_fire(self, after: float) -> float | None:
        if math.isnan(after) or after == math.inf:
            return None
        period = self.seconds
        if self.anchor is None:
            # No anchor: "one period from now" keeps the function total; the app stores one.
            return None if after == -math.inf else after + period
        anchor = self.anchor
        if after < anchor:
            return anchor
        k = math.floor((after - anchor) / period) + 1
        # Float rounding can put anchor + k*period on the wrong side of ``after``; nudge k so
        # the answer is the first multiple strictly after it (at most a step or two).
        while k > 1 and anchor + (k - 1) * period > after:
            k -= 1
        while anchor + k * period <= after:
            k += 1
        return anchor + k * period

    def describe(self, locale: str = "en") -> str:
        try:
            return describe_period(self.seconds, locale)
        except Exception:  # a description must never fail its caller
            return f"Every {self.seconds} seconds"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seconds": self.seconds, "anchor": self.anchor}


def interval(
    seconds: float | None = None,
    *,
    minutes: float = 0,
    hours: float = 0,
    days: float = 0,
    every: str | None = None,
    anchor: float | datetime | None = None,
) -> IntervalTrigger:
    """Every ``seconds`` / ``minutes+hours+days`` / ``every="1h30m"`` — exactly one of them."""
    units = {"minutes": minutes, "hours": hours, "days": days}
    for name, value in units.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise InvalidInput(SECONDS_FIELD, f"{name} must be a number >= 0, got {value!r}")
    ways = [
        name
        for name, given in (
            ("seconds", seconds is not None),
            ("minutes/hours/days", any(units.values())),
            ("every", every is not None),
        )
        if given
    ]
    if len(ways) > 1:
        raise InvalidInput(SECONDS_FIELD, f"give the period one way only, not {' and '.join(ways)}")
    if every is not None:
        period = parse_duration(every, field="trigger.every")
    elif seconds is not None:
        period = check_period(seconds)
    else:
        period = minutes * 60 + hours * 3600 + days * 86_400
        if period <= 0:
            raise InvalidInput(
                SECONDS_FIELD,
                "the period must be greater than zero; give seconds=..., "
                "minutes/hours/days=..., or every='5m'",
            )
    if isinstance(anchor, datetime):
        anchor = instant_from_datetime(anchor, "trigger.anchor")
    return IntervalTrigger(period, anchor)
