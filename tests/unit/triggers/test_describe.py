"""describe(): sentences for people in English and Chinese, and never an exception."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import cron, descriptions
from horae.triggers.cron_describe import describe_expression

from .cron_strategies import ZONES, GeneratedCron, cron_expressions


def test_cron_in_english_with_the_zone() -> None:
    trigger = cron("0 2 * * 1", "Asia/Shanghai")
    assert trigger.describe() == "At 02:00, on Monday (Asia/Shanghai)"
    assert trigger.describe("en") == trigger.describe()


@pytest.mark.parametrize("locale", ["zh", "zh_CN", "zh-CN", "zh-Hans", "ZH"])
def test_cron_in_chinese_uses_24_hour_times_and_chinese_names(locale: str) -> None:
    monday = cron("0 2 * * 1", "Asia/Shanghai")
    assert monday.describe(locale) == "每逢星期一，在 02:00 (Asia/Shanghai)"
    # Midnight is 00:00, not an ambiguous "12:00" without AM/PM.
    assert cron("0 0 1 JAN *").describe(locale) == "每年一月，每月 1 日，在 00:00 (UTC)"


def test_unknown_locale_falls_back_to_english() -> None:
    assert cron("0 2 * * 1").describe("fr") == "At 02:00, on Monday (UTC)"


# Every form the engine reads, in both languages. The first block are the expressions the
# library Horae used before described wrongly (issue 12, item 8).
SENTENCES = [
    # Both day fields restricted, one starred: a day must match both (Vixie cron).
    ("0 0 */2 * 1", "At 00:00, on odd-numbered days of the month, only if it is a Monday",
     "每月奇数日，且当天是星期一，在 00:00"),
    ("0 0 L-3 * *", "At 00:00, on the 4th-to-last day of the month", "每月倒数第 4 天，在 00:00"),
    ("5/10 * * * *", "Every 10 minutes starting at minute 5", "从第 5 分钟起每 10 分钟"),
    ("0 5/6 * * *", "At 05:00, 11:00, 17:00 and 23:00", "在 05:00、11:00、17:00 和 23:00"),
    ("10/20 * * * * *", "At seconds 10, 30 and 50", "在第 10、30 和 50 秒"),
    ("0 0 5/10 * *", "At 00:00, on days 5, 15 and 25 of the month",
     "每月 5 日、15 日和 25 日，在 00:00"),
    ("0 0 LW,L-2 * *",
     "At 00:00, on the last weekday (Monday to Friday) and the 3rd-to-last day of the month",
     "每月最后一个工作日和倒数第 3 天，在 00:00"),
    ("0 0 * * 1/2", "At 00:00, on Monday, Wednesday and Friday",
     "每逢星期一、星期三和星期五，在 00:00"),
    # Both restricted, neither starred: either may match.
    ("0 0 13 * 5", "At 00:00, on day 13 of the month or on Friday",
     "每月 13 日或每逢星期五，在 00:00"),
    ("15 10 1,15 * MON-FRI",
     "At 10:15, on days 1 and 15 of the month or on Monday through Friday",
     "每月 1 日和 15 日或每逢星期一至星期五，在 10:15"),
    ("0 0 */7 2 5#5",
     "At 00:00, on every 7th day from day 1 through 29 of the month, only if it is the fifth "
     "Friday of the month, in February",
     "每年二月，每月 1 日至 29 日每 7 天，且当天是每月第 5 个星期五，在 00:00"),
    # '*' anywhere in a list selects every day; Vixie's "starred" looks at the first item only,
    # so '15,*' with a weekday means either: every day.
    ("0 0 */1,15 * *", "At 00:00", "在 00:00"),
    ("0 0 15,* * 1", "At 00:00", "在 00:00"),
    ("0 0 */10 * *", "At 00:00, on every 10th day from day 1 through 31 of the month",
     "每月 1 日至 31 日每 10 天，在 00:00"),
    ("0 0 1-20/7 * *", "At 00:00, on days 1, 8 and 15 of the month",
     "每月 1 日、8 日和 15 日，在 00:00"),
    # A step that does not divide the hour restarts each hour: say where it stops.
    ("*/7 * * * *", "Every 7 minutes from minute 0 through 56", "第 0 至 56 分钟每 7 分钟"),
    ("3/7 * * * *", "Every 7 minutes from minute 3 through 59", "第 3 至 59 分钟每 7 分钟"),
    ("0 */5 * * *", "At 00:00, 05:00, 10:00, 15:00 and 20:00",
     "在 00:00、05:00、10:00、15:00 和 20:00"),
    ("0 0 1,L * *", "At 00:00, on day 1 and the last day of the month",
     "每月 1 日和最后一天，在 00:00"),
    ("0 0 * * 1,5L,2#3",
     "At 00:00, on Monday, the last Friday of the month and the third Tuesday of the month",
     "每逢星期一、每月最后一个星期五和每月第 3 个星期二，在 00:00"),
    ("0 0 2/2 * *", "At 00:00, on even-numbered days of the month", "每月偶数日，在 00:00"),
    ("0 0 1-7 * 1", "At 00:00, on days 1 through 7 of the month or on Monday",
     "每月 1 日至 7 日或每逢星期一，在 00:00"),
    # The rest of the dialect.
    ("@daily", "At 00:00", "在 00:00"),
    ("* * * * *", "Every minute", "每分钟"),
    ("*/15 * * * *", "Every 15 minutes", "每 15 分钟"),
    ("*/3 * * * * *", "Every 3 seconds", "每 3 秒"),
    ("0 * * * *", "At minute 0 past every hour", "每小时，在第 0 分钟"),
    ("0 */6 * * *", "At minute 0 past every 6th hour", "每 6 小时，在第 0 分钟"),
    ("30 */5 * * * *", "At second 30 past every 5th minute", "每 5 分钟，在第 30 秒"),
    ("5,10 * * * *", "At minutes 5 and 10", "在第 5 和 10 分钟"),
    ("0 9-17 * * 1-5", "At minute 0 past every hour from hour 9 through 17, on Monday through "
     "Friday", "每逢星期一至星期五，9 点至 17 点每小时，在第 0 分钟"),
    ("*/5 9-17 * * *", "Every 5 minutes during hours 9 through 17",
     "9 点至 17 点时段内，每 5 分钟"),
    ("*/10 * 9 * * *", "Every 10 seconds during hour 9", "在 9 点时段内，每 10 秒"),
    ("0 9,17 * * *", "At 09:00 and 17:00", "在 09:00 和 17:00"),
    ("30 0 0 * * *", "At 00:00:30", "在 00:00:30"),
    ("0 0 L * *", "At 00:00, on the last day of the month", "每月最后一天，在 00:00"),
    ("0 0 15W * *", "At 00:00, on the weekday (Monday to Friday) nearest day 15 of the month",
     "每月离 15 日最近的工作日，在 00:00"),
    ("0 0 * * 5L", "At 00:00, on the last Friday of the month", "每月最后一个星期五，在 00:00"),
    ("0 0 * * 1#2", "At 00:00, on the second Monday of the month", "每月第 2 个星期一，在 00:00"),
    ("0 0 * * FRI-SUN", "At 00:00, on Friday through Sunday", "每逢星期五至星期日，在 00:00"),
    ("0 0 1 */3 *", "At 00:00, on day 1 of the month, in January, April, July and October",
     "每年一月、四月、七月和十月，每月 1 日，在 00:00"),
    ("0 0 * 1-6 *", "At 00:00, in January through June", "每年一月至六月，在 00:00"),
]


@pytest.mark.parametrize(("expr", "english", "chinese"), SENTENCES)
def test_cron_sentences(expr: str, english: str, chinese: str) -> None:
    trigger = cron(expr, "Europe/Berlin")
    assert trigger.describe("en") == f"{english} (Europe/Berlin)"
    assert trigger.describe("zh-CN") == f"{chinese} (Europe/Berlin)"


def test_sentences_need_no_third_party_describer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Horae writes its own sentences; the library it used before is not a dependency.
    monkeypatch.setitem(sys.modules, "cron_descriptor", None)  # any import of it now fails
    sentence = describe_expression("0 0 L-3 * *", "en")
    assert sentence == "At 00:00, on the 4th-to-last day of the month"
    requires = importlib.metadata.requires("horae") or []
    assert not any(r.startswith("cron-descriptor") for r in requires)


def test_a_failing_describer_degrades_to_quoting_the_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(expr: str, language: str) -> str:
        raise RuntimeError("a describer bug")

    monkeypatch.setattr(descriptions, "_cron_sentence", broken)
    trigger = cron("0 2 * * 1", "Europe/Berlin")
    assert trigger.describe() == "Cron expression '0 2 * * 1' (Europe/Berlin)"
    assert trigger.describe("zh") == "Cron 表达式 '0 2 * * 1' (Europe/Berlin)"


@settings(max_examples=300, deadline=None)
@given(
    expr=cron_expressions(),
    zone=st.sampled_from(ZONES),
    locale=st.sampled_from(["en", "zh", "xx", ""]),
)
def test_describe_never_raises(expr: GeneratedCron, zone: str, locale: str) -> None:
    try:
        trigger = cron(expr.text, zone)
    except InvalidInput:
        return  # expressions that can never fire are refused before they can be described
    sentence = trigger.describe(locale)
    assert sentence.endswith(f" ({zone})")
    # Rendered, not the fallback that quotes the expression.
    assert not sentence.startswith(("Cron expression", "Cron 表达式")), sentence
    assert len(sentence) > len(zone) + 3
