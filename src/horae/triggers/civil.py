"""Proleptic Gregorian calendar arithmetic on plain integers.

The cron search runs on every scheduler tick, so it avoids building ``datetime`` objects:
these integer formulas (Howard Hinnant's ``days_from_civil``) are several times cheaper and
have no range surprises inside the years Horae accepts.
"""

from __future__ import annotations

SECONDS_PER_DAY = 86_400

# Horae computes fire times for years 2..9998 only. Staying a year inside ``datetime``'s own
# limits means converting any instant to any zone's wall clock can never overflow.
MIN_YEAR = 2
MAX_YEAR = 9998

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month]


def possible_month_lengths(month: int) -> tuple[int, ...]:
    """Every length ``month`` can have in some year."""
    return (28, 29) if month == 2 else (_DAYS_IN_MONTH[month],)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of the given date."""
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    mp = month - 3 if month > 2 else month + 9
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the date ``days`` after 1970-01-01."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def weekday_sunday0(year: int, month: int, day: int) -> int:
    """Cron-style weekday: 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday)."""
    return (days_from_civil(year, month, day) + 4) % 7


WallTime = tuple[int, int, int, int, int, int]
"""(year, month, day, hour, minute, second) on some clock, without a zone."""


def wall_to_seconds(wall: WallTime) -> int:
    """Seconds since 1970-01-01 00:00 *on the same clock* as ``wall``."""
    year, month, day, hour, minute, second = wall
    return days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second


def seconds_to_wall(seconds: int) -> WallTime:
    days, rest = divmod(seconds, SECONDS_PER_DAY)
    year, month, day = civil_from_days(days)
    hour, rest = divmod(rest, 3600)
    minute, second = divmod(rest, 60)
    return year, month, day, hour, minute, second
