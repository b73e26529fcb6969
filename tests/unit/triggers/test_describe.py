"""describe(): sentences for people in English and Chinese, and never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from horae.errors import InvalidInput
from horae.triggers import cron, descriptions

from .cron_strategies import ZONES, GeneratedCron, cron_expressions


def test_cron_in_english_with_the_zone() -> None:
    trigger = cron("0 2 * * 1", "Asia/Shanghai")
    assert trigger.describe() == "At 02:00 AM, only on Monday (Asia/Shanghai)"
    assert trigger.describe("en") == trigger.describe()


@pytest.mark.parametrize("locale", ["zh", "zh_CN", "zh-CN", "zh-Hans", "ZH"])
def test_cron_in_chinese_uses_24_hour_times_and_chinese_names(locale: str) -> None:
    assert (
        cron("0 2 * * 1", "Asia/Shanghai").describe(locale)
        == "在 02:00, 仅在 星期一 (Asia/Shanghai)"
    )
    # Midnight is 00:00, not an ambiguous "12:00" without AM/PM.
    assert cron("0 0 1 JAN *").describe(locale).startswith("在 00:00")
    assert "一月" in cron("0 0 1 JAN *").describe(locale)


def test_unknown_locale_falls_back_to_english() -> None:
    assert cron("0 2 * * 1").describe("fr") == "At 02:00 AM, only on Monday (UTC)"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("@daily", "At 12:00 AM (UTC)"),
        ("*/15 * * * *", "Every 15 minutes (UTC)"),
        ("0 0 L * *", "At 12:00 AM, on the last day of the month (UTC)"),
        ("0 0 * * 5L", "At 12:00 AM, on the last Friday of the month (UTC)"),
        ("0 0 * * 1#2", "At 12:00 AM, on the second Monday of the month (UTC)"),
        ("30 0 0 * * *", "At 12:00:30 AM (UTC)"),
    ],
)
def test_cron_dialect_descriptions(expr: str, expected: str) -> None:
    assert cron(expr).describe() == expected


def test_a_failing_describer_degrades_to_quoting_the_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(expr: str, language: str) -> str:
        raise RuntimeError("cron-descriptor missing")

    monkeypatch.setattr(descriptions, "_cron_sentence", broken)
    trigger = cron("0 2 * * 1", "Europe/Berlin")
    assert trigger.describe() == "Cron expression '0 2 * * 1' (Europe/Berlin)"
    assert trigger.describe("zh") == "Cron 表达式 '0 2 * * 1' (Europe/Berlin)"


@settings(max_examples=150, deadline=None)
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
    assert len(sentence) > len(zone) + 3
