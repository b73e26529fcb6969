"""The few words senders add to a message themselves, in each locale a Message has."""

from __future__ import annotations

_LABELS = {
    "open": {"en": "Open in Horae", "zh-CN": "在 Horae 中打开"},
    "info": {"en": "info", "zh-CN": "信息"},
    "warning": {"en": "warning", "zh-CN": "警告"},
    "error": {"en": "error", "zh-CN": "错误"},
    "critical": {"en": "critical", "zh-CN": "严重"},
}


def label(key: str, locale: str) -> str:
    words = _LABELS[key]
    return words.get(locale, words["en"])
