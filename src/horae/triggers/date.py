"""Date triggers: fire once, at one instant, shown in the zone the person gave."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.descriptions import describe_once
from horae.triggers.instants import check_instant
from horae.triggers.wall_clock import ZoneClock, load_zone

AT_FIELD = "trigger.at"


class DateTrigger(Trigger):
    """Fires once, at ``at`` (UTC epoch seconds); ``tz`` is the zone it is shown in.

    The instant alone decides when it fires. ``tz`` is kept because a person who scheduled
    "09:00 in Asia/Shanghai" wants to read that back, not "01:00 UTC".
    """

    kind: ClassVar[str] = "date"

    def __init__(self, at: float, tz: str | None = None) -> None:
        self.at = check_instant(at, AT_FIELD)
        if tz is not None:
            load_zone(tz)
        self.tz = tz

    def next_fire(self, after: float) -> float | None:
        if math.isnan(after):
            return None
        return self.at if self.at > after else None

    def describe(self, locale: str = "en") -> str:
        return describe_once(self.at, locale, self.tz)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "at": self.at}
        if self.tz is not None:
            data["tz"] = self.tz
        return data


def at(when: datetime | float | str, tz: str | None = None) -> DateTrigger:
    """Fire once at ``when``: a datetime, epoch seconds, or an ISO-8601 string.

    A naive datetime or offset-less string is refused unless ``tz`` names its zone. One rule
    for every form a wall time comes in (naive + ``tz``, a datetime whose tzinfo is a
    ``ZoneInfo``, a string + ``tz``): a wall time inside a DST gap moves forward by the gap
    (02:30 → 03:30), a repeated one is its first occurrence for ``fold=0`` and its second
    for ``fold=1``. The zone (``tz``, else a ``ZoneInfo``'s key) is kept for display.
    """
    zone_name = tz
    if zone_name is None and isinstance(when, datetime) and isinstance(when.tzinfo, ZoneInfo):
        zone_name = when.tzinfo.key
    return DateTrigger(instant_from_any(when, tz, AT_FIELD), zone_name)


def instant_from_any(when: object, tz: str | None, field: str) -> float:
    zone = None if tz is None else load_zone(tz)
    if isinstance(when, str):
        when = _parse_iso(when, field)
    if isinstance(when, datetime):
        if isinstance(when.tzinfo, ZoneInfo):
            # Resolved by Horae's rule, not datetime.timestamp(): for a time in a gap with
            # fold=1 that would move it backwards, unlike a naive time given with tz.
            return check_instant(ZoneClock(when.tzinfo).resolve(when.replace(tzinfo=None)), field)
        if when.tzinfo is not None and when.utcoffset() is not None:
            return check_instant(when.timestamp(), field)
        if zone is None:
            raise InvalidInput(
                field,
                f"{when.isoformat()} has no time zone; add an offset such as +00:00, "
                "or give tz='Europe/Berlin' to say which zone it is in",
            )
        return check_instant(ZoneClock(zone).resolve(when), field)
    return check_instant(when, field)


def _parse_iso(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            field, f"{text!r} is not an ISO-8601 date-time such as '2026-12-01T09:00:00+00:00'"
        ) from None
