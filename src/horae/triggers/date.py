"""Date triggers: fire once, at one instant."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.descriptions import describe_once
from horae.triggers.instants import check_instant, instant_from_datetime
from horae.triggers.wall_clock import ZoneClock, load_zone

AT_FIELD = "trigger.at"


class DateTrigger(Trigger):
    """Fires once, at ``at`` (UTC epoch seconds)."""

    kind: ClassVar[str] = "date"

    def __init__(self, at: float) -> None:
        self.at = check_instant(at, AT_FIELD)

    def next_fire(self, after: float) -> float | None:
        if math.isnan(after):
            return None
        return self.at if self.at > after else None

    def describe(self, locale: str = "en") -> str:
        return describe_once(self.at, locale)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at}


def at(when: datetime | float | str, tz: str | None = None) -> DateTrigger:
    """Fire once at ``when``: an aware datetime, epoch seconds, or an ISO-8601 string.

    A naive datetime or offset-less string is refused unless ``tz`` names its zone; then a
    wall time inside a DST gap means the end of the gap, and a repeated one its first
    occurrence, exactly as for cron.
    """
    return DateTrigger(instant_from_any(when, tz, AT_FIELD))


def instant_from_any(when: object, tz: str | None, field: str) -> float:
    zone = None if tz is None else load_zone(tz)
    if isinstance(when, str):
        when = _parse_iso(when, field)
    if isinstance(when, datetime):
        if when.tzinfo is not None and when.utcoffset() is not None:
            return instant_from_datetime(when, field)
        if zone is None:
            raise InvalidInput(
                field,
                f"{when.isoformat()} has no time zone; add an offset such as +00:00, "
                "or give tz='Europe/Berlin' to say which zone it is in",
            )
        return check_instant(ZoneClock(zone).resolve(when.replace(tzinfo=None)), field)
    return check_instant(when, field)


def _parse_iso(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            field, f"{text!r} is not an ISO-8601 date-time such as '2026-12-01T09:00:00+00:00'"
        ) from None
