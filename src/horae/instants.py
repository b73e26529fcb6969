"""Instants as people give them (datetime, ISO-8601, epoch) to UTC epoch seconds and back."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from horae.errors import InvalidInput

MAX_EPOCH = 253_402_300_799.0  # 9999-12-31T23:59:59Z


def to_epoch(value: Any, field: str) -> float:
    """Aware datetime, ISO-8601 string with an offset, or epoch seconds -> epoch seconds.

    Instants outside 1970-01-01 .. 9999-12-31 are refused: nothing Horae schedules lives
    there, and trigger math on them would overflow.
    """
    epoch = _to_epoch(value, field)
    if not 0.0 <= epoch <= MAX_EPOCH:
        raise InvalidInput(field, "must be between 1970-01-01 and 9999-12-31 (UTC)")
    return epoch


def _to_epoch(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(field, "must be a date-time, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidInput(field, "must be a finite number of seconds")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                field, f"{value!r} is not an ISO-8601 date-time (e.g. 2026-12-01T09:00:00+08:00)"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(field, "needs a UTC offset or time zone (e.g. 2026-12-01T09:00Z)")
        return value.timestamp()
    raise InvalidInput(field, f"must be a date-time, not {type(value).__name__}")


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def iso(epoch: float | None) -> str | None:
    """ISO-8601 in UTC with milliseconds, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
