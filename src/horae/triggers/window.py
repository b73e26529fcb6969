"""Fires inside a schedule's start/end window, and previews of the next N fires for people."""

from __future__ import annotations

import math
from datetime import datetime

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.instants import as_utc_datetime, instant_from_datetime

MAX_PREVIEW = 1000


def next_in_window(
    trigger: Trigger, after: float, start_at: float | None, end_at: float | None
) -> float | None:
    """First fire strictly after ``after`` and at or after ``start_at``; None past ``end_at``."""
    if start_at is not None and start_at > after:
        # "at or after start_at" is "strictly after the float just below start_at".
        after = math.nextafter(start_at, -math.inf)
    fire = trigger.next_fire(after)
    if fire is None or (end_at is not None and fire > end_at):
        return None
    return fire


def preview(
    trigger: Trigger,
    after: datetime | float,
    n: int = 10,
    *,
    start_at: float | None = None,
    end_at: float | None = None,
) -> list[datetime]:
    """Up to ``n`` (capped at 1000) next fires after ``after``, as aware UTC datetimes."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidInput("n", f"expected a whole number of fires, got {type(n).__name__}")
    cursor = instant_from_datetime(after, "after") if isinstance(after, datetime) else after
    fires: list[datetime] = []
    for _ in range(min(n, MAX_PREVIEW)):
        fire = next_in_window(trigger, cursor, start_at, end_at)
        if fire is None:
            break
        fires.append(as_utc_datetime(fire))
        cursor = fire
    return fires
