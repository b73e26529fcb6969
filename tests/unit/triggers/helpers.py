"""Small helpers shared by the trigger tests."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from horae.triggers import Trigger


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def walk(trigger: Trigger, after: float, n: int) -> list[float]:
    """The next ``n`` fires after ``after`` (stops early at None)."""
    fires: list[float] = []
    for _ in range(n):
        fire = trigger.next_fire(after)
        if fire is None:
            break
        fires.append(fire)
        after = fire
    return fires


def fires_until(trigger: Trigger, after: float, end: float, limit: int = 5000) -> list[float]:
    """Every fire in (after, end], at most ``limit`` of them."""
    fires: list[float] = []
    fire = trigger.next_fire(after)
    while fire is not None and fire <= end and len(fires) < limit:
        fires.append(fire)
        fire = trigger.next_fire(fire)
    return fires


def local_text(fire: float, zone: str) -> str:
    """'2025-03-09 03:00 -0400' – what a person in ``zone`` sees for ``fire``."""
    return datetime.fromtimestamp(fire, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %z")
