"""Hypothesis strategies for cron expressions, each paired with an independent oracle.

A generated expression knows, field by field, which values it selects; ``GeneratedCron.matches``
decides from that and the ``calendar`` module alone whether a wall time matches. The oracle
shares no code with ``horae.triggers``, so the properties test the implementation against the
dialect's definition rather than against itself.
"""

from __future__ import annotations

import bisect
import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Europe/Dublin",  # "negative DST" in tzdata
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Apia",  # DST until 2021, skipped 2011-12-30
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30
    "America/Sao_Paulo",  # DST until 2019, midnight transitions
    "America/Santiago",
    "Asia/Kathmandu",  # +05:45, no DST
    "Asia/Shanghai",
    "Africa/Casablanca",  # DST suspended every Ramadan
    "Antarctica/Troll",  # 2-hour DST
]

FIRST_START = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
LAST_START = datetime(2090, 1, 1, tzinfo=UTC).timestamp()

# Oracle items: ("set", values) | ("last", n) | ("lw",) | ("w", n) for day-of-month,
# ("set", weekdays) | ("lastdow", weekday) | ("nth", weekday, k) for day-of-week.
Item = tuple[object, ...]


@dataclass(frozen=True)
class GeneratedCron:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    dom_items: tuple[Item, ...]
    dow_items: tuple[Item, ...]
    dom_star: bool
    dow_star: bool
    six_fields: bool

    def __repr__(self) -> str:
        return f"GeneratedCron({self.text!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis would otherwise print every field's full set

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = any(_dom_item_matches(item, day) for item in self.dom_items)
        dow = any(_dow_item_matches(item, day) for item in self.dow_items)
        return (dom and dow) if (self.dom_star or self.dow_star) else (dom or dow)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.matches_day(wall.date())
        )

    def matches_minute(self, wall: datetime) -> bool:
        """Some second of this wall-clock minute matches."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and self.matches_day(wall.date())
        )

    @property
    def day_items(self) -> tuple[Item, ...]:
        return self.dom_items + self.dow_items


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _dom_item_matches(item: Item, day: date) -> bool:
    last = _last_day(day)
    if item[0] == "set":
        return day.day in item[1]  # type: ignore[operator]
    if item[0] == "last":
        return day.day == last - item[1]  # type: ignore[operator]
    if item[0] == "lw":
        candidate = date(day.year, day.month, last)
        while candidate.weekday() >= calendar.SATURDAY:
            candidate -= timedelta(days=1)
        return day == candidate
    target = item[1]
    assert isinstance(target, int)
    if target > last:
        return False
    weekday = date(day.year, day.month, target).weekday()
    if weekday == calendar.SATURDAY:
        target = target - 1 if target > 1 else target + 2
    elif weekday == calendar.SUNDAY:
        target = target + 1 if target < last else target - 2
    return day.day == target


def _dow_item_matches(item: Item, day: date) -> bool:
    cron_weekday = (day.weekday() + 1) % 7  # Python: Monday = 0; cron: Sunday = 0
    if item[0] == "set":
        return cron_weekday in item[1]  # type: ignore[operator]
    if item[0] == "lastdow":
        return cron_weekday == item[1] and day.day + 7 > _last_day(day)
    return cron_weekday == item[1] and (day.day - 1) // 7 + 1 == item[2]


@st.composite
def _range_item(
    draw: st.DrawFn, low: int, high: int, star_high: int, portable: bool = False
) -> tuple[str, set[int]]:
    """One non-star list item: a, a-b, a-b/n or a/n, with the values it selects.

    croniter reads one-value ranges as the whole field ("12-12/1" as "*", "19-19" as "*");
    Vixie cron, cronsim and Horae read both as 12 (19). Portable expressions avoid them,
    and "a/n" in day-of-week, which cronsim (like cronie) runs up to 7 = Sunday while Horae and
    croniter stop at Saturday.
    """
    shapes = ["value", "range", "range-step", "start-step"]
    if portable and star_high != high:
        shapes.remove("start-step")  # day-of-week "1/2": cronsim runs it up to 7 (Sunday)
    shape = draw(st.sampled_from(shapes))
    a = draw(st.integers(low, high))
    if shape == "value":
        return str(a), {a}
    if shape == "start-step":
        a = min(a, star_high)
        step = draw(st.integers(1, star_high - low + 1))
        return f"{a}/{step}", set(range(a, star_high + 1, step))
    if portable and a == high:
        return str(a), {a}
    b = draw(st.integers(a + 1 if portable else a, high))
    if shape == "range":
        return f"{a}-{b}", set(range(a, b + 1))
    step = draw(st.integers(1, star_high - low + 1))
    return f"{a}-{b}/{step}", set(range(a, b + 1, step))


@st.composite
def plain_field(
    draw: st.DrawFn,
    low: int,
    high: int,
    names: list[str] | None = None,
    star_high: int | None = None,
    portable: bool = False,
) -> tuple[str, set[int]]:
    top = high if star_high is None else star_high
    shape = draw(st.sampled_from(["star", "star-step", "items", "items", "name"]))
    if shape == "star":
        return "*", set(range(low, top + 1))
    if shape == "star-step":
        step = draw(st.integers(1, top - low + 1))
        return f"*/{step}", set(range(low, top + 1, step))
    if shape == "name" and names:
        index = draw(st.integers(0, len(names) - 1))
        name = names[index]
        name = draw(st.sampled_from([name, name.lower(), name.title()]))
        return name, {index + low}
    items = draw(st.lists(_range_item(low, high, top, portable), min_size=1, max_size=3))
    return ",".join(text for text, _ in items), set().union(*(values for _, values in items))


@st.composite
def day_of_month_field(draw: st.DrawFn, portable: bool) -> tuple[str, tuple[Item, ...], bool]:
    if draw(st.integers(0, 3)) == 0:  # plain numbers, possibly '*'
        text, values = draw(plain_field(1, 31, portable=portable))
        return text, (("set", frozenset(values)),), text.startswith("*")
    items: list[tuple[str, Item]] = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["last", "lw"] if portable else ["last", "lw", "w", "plain"]))
        if kind == "last":
            offset = 0 if portable else draw(st.integers(0, 27))
            items.append(("L" if offset == 0 else f"L-{offset}", ("last", offset)))
        elif kind == "lw":
            items.append(("LW", ("lw",)))
        elif kind == "w":
            target = draw(st.integers(1, 31))
            items.append((f"{target}W", ("w", target)))
        else:
            text, values = draw(_range_item(1, 31, 31))
            items.append((text, ("set", frozenset(values))))
    return ",".join(text for text, _ in items), tuple(item for _, item in items), False


@st.composite
def day_of_week_field(draw: st.DrawFn, portable: bool) -> tuple[str, tuple[Item, ...], bool]:
    if draw(st.integers(0, 2)) == 0:
        text, values = draw(plain_field(0, 7, WEEKDAYS, star_high=6, portable=portable))
        if not portable and text == "*" and draw(st.booleans()):
            text = "?"
        weekdays = frozenset(v % 7 for v in values)
        return text, (("set", weekdays),), text.startswith(("*", "?"))
    items: list[tuple[str, Item]] = []
    for _ in range(draw(st.integers(1, 2))):
        weekday = draw(st.integers(0, 7))
        if draw(st.booleans()):
            items.append((f"{weekday}L", ("lastdow", weekday % 7)))
        else:
            ordinal = draw(st.integers(1, 5))
            items.append((f"{weekday}#{ordinal}", ("nth", weekday % 7, ordinal)))
    return ",".join(text for text, _ in items), tuple(item for _, item in items), False


@st.composite
def cron_expressions(draw: st.DrawFn, portable: bool = False) -> GeneratedCron:
    """A syntactically valid expression (it may still be impossible; callers filter those).

    ``portable`` keeps to what cronsim also understands (no ``?``, ``L-n`` or ``nW``).
    """
    six_fields = draw(st.booleans())
    second_text, seconds = draw(plain_field(0, 59, portable=portable)) if six_fields else ("", {0})
    minute_text, minutes = draw(plain_field(0, 59, portable=portable))
    hour_text, hours = draw(plain_field(0, 23, portable=portable))
    month_text, months = draw(plain_field(1, 12, MONTHS, portable=portable))
    dom_text, dom_items, dom_star = draw(day_of_month_field(portable))
    dow_text, dow_items, dow_star = draw(day_of_week_field(portable))
    if not portable and dom_text == "*" and draw(st.booleans()):
        dom_text = "?"
    fields = [minute_text, hour_text, dom_text, month_text, dow_text]
    if six_fields:
        fields.insert(0, second_text)
    return GeneratedCron(
        text=" ".join(fields),
        seconds=frozenset(seconds),
        minutes=frozenset(minutes),
        hours=frozenset(hours),
        months=frozenset(months),
        dom_items=dom_items,
        dow_items=dow_items,
        dom_star=dom_star,
        dow_star=dow_star,
        six_fields=six_fields,
    )


@st.composite
def dense_cron_expressions(draw: st.DrawFn) -> GeneratedCron:
    """5-field expressions firing many times a day, so fires land on both sides of a DST
    transition and inside the hours it skips or repeats."""
    minute_text, minutes = draw(plain_field(0, 59))
    hour_text, hours = draw(
        st.sampled_from(
            [
                ("*", range(24)),
                ("*/2", range(0, 24, 2)),
                ("1-4", range(1, 5)),
                ("0-3,22,23", [0, 1, 2, 3, 22, 23]),
            ]
        )
    )
    dom_text = draw(st.sampled_from(["*", "?"]))
    return GeneratedCron(
        text=f"{minute_text} {hour_text} {dom_text} * *",
        seconds=frozenset({0}),
        minutes=frozenset(minutes),
        hours=frozenset(hours),
        months=frozenset(range(1, 13)),
        dom_items=(("set", frozenset(range(1, 32))),),
        dow_items=(("set", frozenset(range(7))),),
        dom_star=True,
        dow_star=True,
        six_fields=False,
    )


start_instants = st.one_of(
    st.integers(int(FIRST_START), int(LAST_START)).map(float),
    st.floats(FIRST_START, LAST_START, allow_nan=False, allow_infinity=False),
)


@cache
def transitions(zone: str) -> tuple[float, ...]:
    """Instants (1989..2091) at which ``zone``'s UTC offset changes, found by a daily scan."""
    tz = ZoneInfo(zone)
    found: list[float] = []
    step = 86_400
    t = int(FIRST_START) - 366 * step
    previous = datetime.fromtimestamp(t, tz).utcoffset()
    while t < LAST_START + 366 * step:
        offset = datetime.fromtimestamp(t + step, tz).utcoffset()
        if offset != previous:
            low, high = t, t + step
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, tz).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            found.append(float(high))
            previous = offset
        t += step
    return tuple(found)


def near_transition(zone: str, instant: float, margin: float = 2 * 86_400) -> bool:
    changes = transitions(zone)
    index = bisect.bisect_left(changes, instant - margin)
    return index < len(changes) and changes[index] <= instant + margin


@st.composite
def instants_near_transitions(draw: st.DrawFn, zone: str) -> float:
    """An instant within minutes or hours of one of ``zone``'s offset changes (any instant if
    it has none), so walks from it cross the change."""
    changes = transitions(zone)
    if not changes:
        return draw(start_instants)
    change = draw(st.sampled_from(changes))
    margin = draw(st.sampled_from([90, 900, 3 * 3600]))
    # Mostly just before the change, so that the walk from here crosses it.
    return change + draw(st.integers(-margin, margin // 4)) + draw(st.sampled_from([0.0, 0.5]))
