"""Wall clocks of IANA zones, and the DST rule Horae applies when mapping them to instants.

DESIGN.md, "Semantics": a wall time that does not exist (spring forward) fires at the first
instant after the gap; a wall time that occurs twice (fall back) fires once, at its first
occurrence. Both rules keep the instant a monotone (non-decreasing) function of the wall time,
which is what lets the cron search run on wall times and convert only its answer.

One-off wall times (``at``) follow the common single-time rule instead (``resolve``): there is
no sequence of fires to keep in order, so a person's 02:30 keeps its distance from 02:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from horae.errors import InvalidInput
from horae.triggers.civil import WallTime, wall_to_seconds

_ONE_SECOND = timedelta(seconds=1)

# Zones with no transitions at all; the cron search skips zone arithmetic for them.
UTC_KEYS = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "UCT",
        "Etc/Universal",
        "Universal",
        "Etc/Zulu",
        "Zulu",
        "GMT",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "GMT0",
        "GMT+0",
        "GMT-0",
        "Etc/Greenwich",
        "Greenwich",
    }
)


def load_zone(key: object, field: str = "trigger.tz") -> ZoneInfo:
    """The IANA zone named ``key``, or InvalidInput naming ``field``."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(field, "give an IANA time zone name such as 'Europe/Berlin' or 'UTC'")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: keys such as '../x' or absolute paths, which zoneinfo refuses outright.
        raise InvalidInput(
            field, f"unknown time zone {key!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None


class ZoneClock:
    """Converts between UTC epoch seconds and one zone's wall clock, applying the DST rule."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def earliest_wall_firing_after(self, after: int) -> WallTime:
        """The smallest wall time whose fire instant is strictly after ``after``."""
        local = datetime.fromtimestamp(after, self.zone)
        if local.fold:
            # ``after`` is in the second pass of a repeated hour. Every wall time of that hour
            # fired in the first pass, so the next candidate is the first wall time past it.
            local = datetime.fromtimestamp(self._end_of_repeat(after, local), self.zone)
            return _wall_of(local)
        # One second later; the cron search carries an overflowing second (60) upwards.
        return local.year, local.month, local.day, local.hour, local.minute, local.second + 1

    def fire_instant(self, wall: WallTime) -> int:
        """The instant a cron fire at ``wall`` happens (first occurrence, or gap end)."""
        offset_first, offset_second = self._offsets(wall)
        local_seconds = wall_to_seconds(wall)
        if offset_first >= offset_second:  # normal, or repeated: fold=0 is the first pass
            return local_seconds - offset_first
        # In a gap fold=0 reads the wall time with the offset from before the transition and
        # fold=1 with the one after, so the transition lies between the two readings.
        return self.transition_between(local_seconds - offset_second, local_seconds - offset_first)

    def resolve(self, naive: datetime) -> float:
        """Epoch seconds of one wall time given by a person (``at``), keeping microseconds.

        The rule for a single wall time (not cron's, see module docstring): a wall time in a
        gap moves forward by the gap's length (02:30 in a one-hour spring-forward gap is
        03:30), as zoneinfo, pendulum and Temporal's "compatible" do; a repeated wall time is
        its first occurrence for ``fold=0`` and its second for ``fold=1``.
        """
        wall = _wall_of(naive)
        offset_first, offset_second = self._offsets(wall)
        if offset_first < offset_second:
            # In a gap the offset from before the transition moves the time forward by the gap.
            offset = offset_first
        else:
            offset = offset_second if naive.fold else offset_first
        return wall_to_seconds(wall) - offset + naive.microsecond / 1_000_000

    def transition_between(self, before: int, after: int) -> int:
        """First instant in (before, after] whose UTC offset differs from ``before``'s."""
        offset = self._offset_at(before)
        low, high = before, after
        while high - low > 1:  # tzdata transitions fall on whole seconds
            middle = (low + high) // 2
            if self._offset_at(middle) == offset:
                low = middle
            else:
                high = middle
        return high

    def _offsets(self, wall: WallTime) -> tuple[int, int]:
        """UTC offsets of ``wall`` read as its first (fold=0) and second (fold=1) occurrence."""
        first = datetime(*wall, tzinfo=self.zone)
        return _seconds(first.utcoffset()), _seconds(first.replace(fold=1).utcoffset())

    def _end_of_repeat(self, after: int, local: datetime) -> int:
        """First instant after the repeated hour that ``after`` (second pass) lies in."""
        repeat_length = _seconds(local.replace(fold=0).utcoffset()) - _seconds(local.utcoffset())
        # ``after`` is less than one repeat length past the transition.
        transition = self.transition_between(after - repeat_length, after)
        return transition + repeat_length

    def _offset_at(self, instant: int) -> timedelta | None:
        return datetime.fromtimestamp(instant, self.zone).utcoffset()


def _seconds(offset: timedelta | None) -> int:
    if offset is None:  # pragma: no cover - a ZoneInfo always knows its offset
        raise AssertionError("zone without UTC offset")
    return offset // _ONE_SECOND


def _wall_of(moment: datetime) -> WallTime:
    return moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
