"""Cron expressions in words, English and Simplified Chinese, rendered from ``CronMeaning``.

Horae writes its own sentences because a description is a promise: the library it used
before read ``0 0 */2 * 1`` as "every 2 days, or on Monday" (the engine fires on odd days
that are Mondays) and dropped starts (``5/10``), ``L-3`` and ``LW`` in Chinese. Both languages
render the same structure, and tests check that structure against the engine's fires.

Shape of a sentence: time of day, then days, then months ("At 02:00, on Monday, in
January"); Chinese goes from large to small ("一月，每逢星期一，在 02:00").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from horae.triggers.cron_meaning import (
    CronMeaning,
    DayOfMonthItem,
    DayOfWeekItem,
    LastDay,
    LastOfMonth,
    LastWeekday,
    NearestWeekday,
    NthOfMonth,
    Span,
    cron_meaning,
)

Language = Literal["en", "zh"]
Mode = Literal["lead", "past", "during"]

# A step with a start (``5/10``, ``1-30/7``) that selects at most this many values is
# listed: "at seconds 10, 30 and 50" says more than "every 20 seconds starting at 10".
_LIST_AT_MOST = 5
# Clock times are listed ("At 09:00 and 17:00") when there are at most this many.
_CLOCK_TIMES_AT_MOST = 6

_WEEKDAYS_EN = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAYS_ZH = ("星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六")
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_MONTHS_ZH = (
    "一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月",
    "十二月",
)  # fmt: skip
_ORDINALS_EN = ("first", "second", "third", "fourth", "fifth")


def describe_expression(expr: str, language: Language) -> str:
    """The sentence for a valid expression (without its zone)."""
    meaning = cron_meaning(expr)
    if language == "zh":
        parts = [_months(meaning, "zh"), _days_zh(meaning), _time(meaning, "zh")]
        return "，".join(p for p in parts if p)
    parts = [_time(meaning, "en"), _days_en(meaning), _months(meaning, "en")]
    return ", ".join(p for p in parts if p)


# -- shared helpers ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """One field's items for people: single values listed together, other spans apart."""

    values: tuple[int, ...]
    spans: tuple[Span, ...]

    @property
    def single(self) -> bool:
        return not self.spans and len(self.values) == 1

    @property
    def is_all(self) -> bool:
        return not self.values and all(s.is_all for s in self.spans)


def _field(spans: tuple[Span, ...], list_every: bool = False, size: int = 0) -> _Field:
    values: set[int] = set()
    kept: list[Span] = []
    for span in spans:
        if span.form in ("every", "from") and size and size % span.step:
            # */7 minutes fires at :56 then :00, 4 minutes later: "every 7 minutes" would
            # not be true across the hour, so say where each hour's run stops.
            span = Span("range", span.start, span.values()[-1], span.step)
        few = len(span.values()) <= _LIST_AT_MOST
        listed = span.step > 1 and (
            list_every or (span.form in ("from", "range") and few)
        )
        if span.form == "value" or listed:
            values |= set(span.values())
        elif span.is_all and len(spans) > 1:
            return _Field((), (span,))  # '*' in a list selects everything anyway
        else:
            kept.append(span)
    return _Field(tuple(sorted(values)), tuple(kept))


def _join(items: list[str], language: Language, word: str = "") -> str:
    """"a, b and c" / "a、b 和 c" (``word`` replaces "and"/"和", e.g. "or"/"或")."""
    if len(items) <= 1:
        return "".join(items)
    if language == "zh":
        # A space between Chinese and a number: "17:00 和 23:00", "15 日和 25 日".
        word = (" " if items[-2][-1].isascii() else "") + (word or "和")
        word += " " if items[-1][0].isascii() else ""
        return "、".join(items[:-1]) + word + items[-1]
    return ", ".join(items[:-1]) + f" {word or 'and'} " + items[-1]


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# -- time of day -------------------------------------------------------------------------

_UNITS = {
    "en": (("second", "seconds"), ("minute", "minutes"), ("hour", "hours")),
    "zh": (("秒", "秒"), ("分钟", "分钟"), ("小时", "小时")),
}


def _time(meaning: CronMeaning, language: Language) -> str:
    fields = [
        _field(meaning.seconds, size=60),
        _field(meaning.minutes, size=60),
        _field(meaning.hours, size=24),
    ]
    seconds, minutes, hours = fields
    count = len(seconds.values) * len(minutes.values) * len(hours.values)
    if not any(f.spans for f in fields) and count <= _CLOCK_TIMES_AT_MOST:
        with_seconds = meaning.has_seconds_field and seconds.values != (0,)
        times = [
            f"{h:02d}:{m:02d}" + (f":{s:02d}" if with_seconds else "")
            for h in hours.values
            for m in minutes.values
            for s in seconds.values
        ]
        return ("在 " if language == "zh" else "At ") + _join(times, language)
    phrases: list[tuple[Mode, str]] = []
    for level, field in enumerate(fields):
        finer_single = all(f.single for f in fields[:level])
        if level == 0 and field.values == (0,) and not field.spans:
            continue  # second 0 is what "every minute" and "at 02:00" already mean
        if field.is_all and phrases and not finer_single:
            continue  # "every 10 seconds" already runs through every minute and hour
        mode: Mode = "lead" if not phrases else ("past" if finer_single else "during")
        phrases.append((mode, _field_phrase(field, level, mode, language)))
    if language == "zh":
        return "，".join(text for _, text in reversed(phrases))
    sentence = " ".join(text for _, text in phrases)
    return sentence[:1].upper() + sentence[1:]


def _field_phrase(field: _Field, level: int, mode: Mode, language: Language) -> str:
    parts = []
    if field.values:
        parts.append(_values_phrase(field.values, level, mode, language))
    parts += [_span_phrase(span, level, mode, language) for span in field.spans]
    if language == "zh":
        return "和".join(parts)
    text = " and ".join(parts)
    prefix = {"lead": "", "past": "past ", "during": "during "}[mode]
    if mode == "during" and text.startswith("during "):
        prefix = ""
    return prefix + text


def _position(value: int, level: int, language: Language) -> str:
    if language == "zh":
        return f"{value} 点" if level == 2 else f"第 {value} {_UNITS['zh'][level][0]}"
    return str(value)


def _values_phrase(values: tuple[int, ...], level: int, mode: Mode, language: Language) -> str:
    if language == "zh":
        if level == 2:
            text = _join([f"{v} 点" for v in values], "zh")
            return {"lead": f"在 {text}", "past": text, "during": f"在 {text}时段内"}[mode]
        unit = _UNITS["zh"][level][0]
        return f"在第 {_join([str(v) for v in values], 'zh')} {unit}"
    singular, plural = _UNITS["en"][level]
    unit = singular if len(values) == 1 else plural
    listed = _join([str(v) for v in values], "en")
    return f"at {unit} {listed}" if mode == "lead" else f"{unit} {listed}"


def _span_phrase(span: Span, level: int, mode: Mode, language: Language) -> str:
    if language == "zh":
        return _span_zh(span, level, mode)
    singular, plural = _UNITS["en"][level]
    if span.step == 1:
        every = f"every {singular}"
    elif mode == "lead":
        every = f"every {span.step} {plural}"
    else:
        every = f"every {_nth(span.step)} {singular}"
    if span.form in ("all", "every"):
        return every
    if span.form == "from":
        return f"{every} starting at {singular} {span.start}"
    if span.step == 1 and mode == "during":
        return f"during {plural} {span.start} through {span.end}"
    return f"{every} from {singular} {span.start} through {span.end}"


def _span_zh(span: Span, level: int, mode: Mode) -> str:
    unit = _UNITS["zh"][level][0]
    every = f"每 {span.step} {unit}" if span.step > 1 else f"每{unit}"
    if span.form in ("all", "every"):
        return every
    if span.form == "from":
        return f"从{_position(span.start, level, 'zh')}起{every}"
    if level < 2:
        between = f"第 {span.start} 至 {span.end} {unit}"  # "第 0 至 30 分钟"
    else:
        between = f"{span.start} 点至 {span.end} 点"
    if span.step == 1 and mode == "during":
        return f"{between}时段内"
    return f"{between}{every}"


# -- days --------------------------------------------------------------------------------


def _dom_items(meaning: CronMeaning, language: Language) -> list[str]:
    spans = tuple(i for i in meaning.days_of_month if isinstance(i, Span))
    others: list[DayOfMonthItem] = [i for i in meaning.days_of_month if not isinstance(i, Span)]
    field = _field(spans)
    zh = language == "zh"
    out: list[str] = []
    if field.values:
        if zh:
            out.append(_join([f"{d} 日" for d in field.values], "zh"))
        else:
            days = "day" if len(field.values) == 1 else "days"
            out.append(f"{days} {_join([str(d) for d in field.values], 'en')}")
    for span in field.spans:
        out.append(_dom_span(span, language))
    for item in others:
        out.append(_dom_special(item, language))
    return out


def _dom_span(span: Span, language: Language) -> str:
    zh = language == "zh"
    if span.step == 2 and span.start in (1, 2) and span.form in ("every", "from"):
        odd = span.start == 1  # 1, 3 .. 31 or 2, 4 .. 30, in every month
        if zh:
            return "奇数日" if odd else "偶数日"
        return "odd-numbered days" if odd else "even-numbered days"
    if span.step == 1:
        return f"{span.start} 日至 {span.end} 日" if zh else f"days {span.start} through {span.end}"
    # Months differ in length: name the last day a step reaches, so that "every 7th day"
    # is not read as running on across the month's end.
    end = span.values()[-1]
    if zh:
        return f"{span.start} 日至 {end} 日每 {span.step} 天"
    return f"every {_nth(span.step)} day from day {span.start} through {end}"


def _dom_special(item: DayOfMonthItem, language: Language) -> str:
    zh = language == "zh"
    if isinstance(item, LastDay):
        if item.offset == 0:
            return "最后一天" if zh else "the last day"
        # L-3 is the 4th-to-last day: L itself is the 1st-to-last.
        if zh:
            return f"倒数第 {item.offset + 1} 天"
        return f"the {_nth(item.offset + 1)}-to-last day"
    if isinstance(item, LastWeekday):
        return "最后一个工作日" if zh else "the last weekday (Monday to Friday)"
    assert isinstance(item, NearestWeekday)
    if zh:
        return f"离 {item.day} 日最近的工作日"
    return f"the weekday (Monday to Friday) nearest day {item.day}"


def _dow_items(meaning: CronMeaning, language: Language, article: bool) -> list[str]:
    zh = language == "zh"
    names = _WEEKDAYS_ZH if zh else _WEEKDAYS_EN
    a = "a " if article and not zh else ""
    spans = tuple(i for i in meaning.weekdays if isinstance(i, Span))
    others: list[DayOfWeekItem] = [i for i in meaning.weekdays if not isinstance(i, Span)]
    field = _field(spans, list_every=True)
    out = [a + names[d % 7] for d in sorted({v % 7 for v in field.values}, key=_monday_first)]
    for span in field.spans:  # ranges with step 1 (steps are listed by _field)
        first, last = names[span.start % 7], names[span.end % 7]
        out.append(f"{first}至{last}" if zh else f"{a}{first} through {last}")
    for item in others:
        if isinstance(item, LastOfMonth):
            day = names[item.weekday]
            out.append(f"每月最后一个{day}" if zh else f"the last {day} of the month")
        elif isinstance(item, NthOfMonth):
            day = names[item.weekday]
            ordinal = _ORDINALS_EN[item.ordinal - 1]
            out.append(
                f"每月第 {item.ordinal} 个{day}" if zh else f"the {ordinal} {day} of the month"
            )
    return out


def _monday_first(weekday: int) -> int:
    return (weekday + 6) % 7


def _every_day(meaning: CronMeaning) -> bool:
    """No day restriction: both fields open, or either open when either may match."""
    if meaning.days_combine == "either":
        return meaning.any_day_of_month or meaning.any_weekday
    return meaning.any_day_of_month and meaning.any_weekday


def _days_en(meaning: CronMeaning) -> str:
    if _every_day(meaning):
        return ""
    dom = "" if meaning.any_day_of_month else (
        "on " + _join(_dom_items(meaning, "en"), "en") + " of the month"
    )
    if meaning.any_weekday:
        return dom
    if not dom:
        return "on " + _join(_dow_items(meaning, "en", article=False), "en")
    if meaning.days_combine == "both":
        return f"{dom}, only if it is " + _join(_dow_items(meaning, "en", article=True), "en", "or")
    return f"{dom} or on " + _join(_dow_items(meaning, "en", article=False), "en")


def _days_zh(meaning: CronMeaning) -> str:
    if _every_day(meaning):
        return ""
    days_of_month = _join(_dom_items(meaning, "zh"), "zh")
    dom = "" if meaning.any_day_of_month else _spaced("每月", days_of_month)
    if meaning.any_weekday:
        return dom
    weekdays = _dow_items(meaning, "zh", article=False)
    if not dom:
        return _every_weekday_zh(weekdays, "和")
    if meaning.days_combine == "both":
        return f"{dom}，且当天是" + _join(weekdays, "zh", "或")
    return f"{dom}或" + _every_weekday_zh(weekdays, "或")


def _spaced(chinese: str, text: str) -> str:
    """Chinese followed by a number gets a space: "每月 1 日", but "每月最后一天"."""
    return f"{chinese} {text}" if text[:1].isdigit() else chinese + text


def _every_weekday_zh(weekdays: list[str], word: str) -> str:
    text = _join(weekdays, "zh", word)
    return text if text.startswith("每月") else "每逢" + text


# -- months ------------------------------------------------------------------------------


def _months(meaning: CronMeaning, language: Language) -> str:
    field = _field(meaning.months, list_every=True)
    if field.is_all:
        return ""
    names = _MONTHS_ZH if language == "zh" else _MONTHS_EN
    items = [names[m - 1] for m in field.values]
    for span in field.spans:
        first, last = names[span.start - 1], names[span.end - 1]
        items.append(f"{first}至{last}" if language == "zh" else f"{first} through {last}")
    if language == "zh":
        return "每年" + _join(items, "zh")
    return "in " + _join(items, "en")
