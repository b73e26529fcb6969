"""Sentences for people, in English ("en") or Simplified Chinese ("zh").

Cron sentences are Horae's own (``cron_describe``). Every function here returns *something*:
a description is decoration, so an unexpected error degrades to a plain sentence quoting
the expression instead of failing a page or a CLI listing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from horae.triggers.cron_describe import describe_expression

# (seconds per unit, English singular, English plural, Chinese), largest first.
_UNITS = (
    (86_400, "day", "days", "天"),
    (3_600, "hour", "hours", "小时"),
    (60, "minute", "minutes", "分钟"),
    (1, "second", "seconds", "秒"),
)


def normalize_locale(locale: object) -> str:
    """'zh' for any Chinese tag (zh, zh_CN, zh-Hans...), else 'en'."""
    if isinstance(locale, str) and locale.lower().replace("-", "_").startswith("zh"):
        return "zh"
    return "en"


def describe_cron(expr: str, tz: str, locale: str) -> str:
    language = normalize_locale(locale)
    try:
        sentence = _cron_sentence(expr, language)
    except Exception:  # a description is decoration: never fail a page or a listing for it
        sentence = f"Cron 表达式 {expr!r}" if language == "zh" else f"Cron expression {expr!r}"
    return f"{sentence} ({tz})"


# Listings show the same few expressions many times; a sentence depends on nothing else.
@lru_cache(maxsize=512)
def _cron_sentence(expr: str, language: str) -> str:
    return describe_expression(expr, "zh" if language == "zh" else "en")


def describe_period(seconds: float, locale: str) -> str:
    """ "Every 5 minutes" / "每 5 分钟"."""
    zh = normalize_locale(locale) == "zh"
    if seconds < 1 and float(seconds * 1000).is_integer():
        amount = int(seconds * 1000)
        return f"每 {amount} 毫秒" if zh else f"Every {amount} milliseconds"
    if not float(seconds).is_integer():
        amount_text = f"{seconds:g}"
        return f"每 {amount_text} 秒" if zh else f"Every {amount_text} seconds"
    parts: list[tuple[int, str, str, str]] = []
    rest = int(seconds)
    for size, singular, plural, chinese in _UNITS:
        amount, rest = divmod(rest, size)
        if amount:
            parts.append((amount, singular, plural, chinese))
    if zh:
        if len(parts) == 1 and parts[0][0] == 1:
            return f"每{parts[0][3]}"
        return "每 " + " ".join(f"{amount} {chinese}" for amount, _, _, chinese in parts)
    if len(parts) == 1 and parts[0][0] == 1:
        return f"Every {parts[0][1]}"
    words = [
        f"{amount} {singular if amount == 1 else plural}" for amount, singular, plural, _ in parts
    ]
    return "Every " + " ".join(words)


def format_instant(instant: float, tz: str | None = None) -> str:
    """``2026-12-01 09:00:00 UTC``, or in a zone ``2026-12-01 17:00:00 (Asia/Shanghai)``."""
    moment = datetime.fromtimestamp(instant, UTC if tz is None else ZoneInfo(tz))
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + (" UTC" if tz is None else f" ({tz})")


def describe_once(instant: float, locale: str, tz: str | None = None) -> str:
    try:
        when = format_instant(instant, tz)
    except (OverflowError, ValueError, OSError):
        when = f"{instant} (epoch seconds)"
    if normalize_locale(locale) == "zh":
        return f"在 {when} 执行一次"
    return f"Once at {when}"


def describe_any(parts: list[str], locale: str) -> str:
    if normalize_locale(locale) == "zh":
        return "以下任一：" + "；".join(parts)
    return "Any of: " + "; ".join(parts)
