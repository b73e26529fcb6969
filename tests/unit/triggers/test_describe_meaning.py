"""A description is a promise: the structure both sentences are rendered from (CronMeaning)
selects exactly the days and times the engine fires at.

For random expressions (UTC, so DST plays no part: descriptions speak of wall times):
- over a year, a day is described as matching iff the engine fires on it;
- on the first matching day, the described times of day are exactly the engine's fires;
- the next fires over the year each match the described meaning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import cron
from horae.triggers.cron_meaning import CronMeaning, Span, cron_meaning

from .cron_strategies import GeneratedCron, cron_expressions
from .helpers import fires_until

DAY = 86_400
TIMES_COMPARED = 3_000  # of one day's fires; '* * * * * *' has 86 400


def _wall(instant: float) -> datetime:
    return datetime.fromtimestamp(instant, UTC).replace(tzinfo=None)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _selects(spans: tuple[Span, ...], value: int) -> bool:
    return any(value in span.values() for span in spans)


def _described_times_of_day(meaning: CronMeaning) -> list[int]:
    """Seconds after midnight of the times the description names, first ones first."""
    out: list[int] = []
    for hour in (h for h in range(24) if _selects(meaning.hours, h)):
        for minute in (m for m in range(60) if _selects(meaning.minutes, m)):
            for second in (s for s in range(60) if _selects(meaning.seconds, s)):
                out.append(hour * 3600 + minute * 60 + second)
                if len(out) == TIMES_COMPARED:
                    return out
    return out


@settings(max_examples=120, deadline=None)
@given(expr=cron_expressions(), year=st.integers(1995, 2060))
def test_the_described_meaning_agrees_with_the_engine(expr: GeneratedCron, year: int) -> None:
    try:
        trigger = cron(expr.text)
    except InvalidInput:
        return  # never fires: refused before it could be described
    meaning = cron_meaning(expr.text)
    first = date(year, 1, 1)
    days = [first + timedelta(days=i) for i in range(366 if year % 4 == 0 else 365)]
    fired_days = []
    for day in days:
        start = _midnight(day)
        fire = trigger.next_fire(start - 1)
        fires_that_day = fire is not None and fire < start + DAY
        assert meaning.matches_day(day) == fires_that_day, (expr.text, day)
        if fires_that_day:
            fired_days.append(day)
    if fired_days:
        start = _midnight(fired_days[0])
        fired = fires_until(trigger, start - 1, start + DAY - 1, limit=TIMES_COMPARED)
        assert [int(f - start) for f in fired] == _described_times_of_day(meaning), expr.text
    year_start = _midnight(first)
    for fire in fires_until(trigger, year_start - 1, year_start + 366 * DAY, limit=300):
        assert meaning.matches(_wall(fire)), (expr.text, _wall(fire))


def test_a_described_day_that_never_fires_is_caught() -> None:
    # The property above fails on a meaning that combines the day fields the wrong way.
    meaning = cron_meaning("0 0 */2 * 1")
    assert meaning.days_combine == "both"
    odd_tuesday, odd_monday, even_monday = date(2026, 12, 1), date(2026, 12, 7), date(2026, 12, 14)
    assert not meaning.matches_day(odd_tuesday)
    assert meaning.matches_day(odd_monday)
    assert not meaning.matches_day(even_monday)
    trigger = cron("0 0 */2 * 1")
    assert trigger.next_fire(_midnight(odd_tuesday)) == _midnight(odd_monday)
    assert trigger.next_fire(_midnight(odd_monday)) == _midnight(date(2026, 12, 21))
