"""Checking and converting the instants people hand to triggers (epoch seconds, datetimes)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from horae.errors import InvalidInput
from horae.triggers.civil import MAX_YEAR, MIN_YEAR, wall_to_seconds

# The span Horae represents as ``datetime`` in every zone (see civil.MIN_YEAR / MAX_YEAR).
EARLIEST_INSTANT = float(wall_to_seconds((MIN_YEAR, 1, 1, 0, 0, 0)))
LATEST_INSTANT = float(wall_to_seconds((MAX_YEAR, 12, 31, 23, 59, 59)))


def check_instant(value: object, field: str) -> float:
    """``value`` as float epoch seconds, or InvalidInput naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"expected epoch seconds (a number), got {type(value).__name__}")
    if not math.isfinite(value) or not EARLIEST_INSTANT <= value <= LATEST_INSTANT:
        raise InvalidInput(field, f"{value!r} is outside the supported years {MIN_YEAR}-{MAX_YEAR}")
    return float(value)


def instant_from_datetime(moment: datetime, field: str) -> float:
    """Epoch seconds of an aware datetime; naive ones are refused because they are ambiguous."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            field, f"{moment.isoformat()} has no time zone; add an offset such as +00:00"
        )
    return check_instant(moment.timestamp(), field)


def as_utc_datetime(instant: float) -> datetime:
    return datetime.fromtimestamp(instant, UTC)
