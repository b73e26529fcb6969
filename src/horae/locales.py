"""The languages Horae speaks to people, and the tags that name them.

Descriptions of triggers and the console come in English and Simplified Chinese. Every
face that takes a language (the preview's ``locale``, the API's ``Accept-Language``, the
console) accepts the same tags: ``en``, ``en-US``, ``en-GB`` for English and ``zh``,
``zh-CN``, ``zh-Hans``, ``zh-Hans-CN`` for Chinese, in any case and with ``_`` for ``-``.
"""

from __future__ import annotations

from horae.errors import InvalidInput

#: tag (lower case, "-" separated) -> the language code the describers take
TAGS = {"en": "en", "en-us": "en", "en-gb": "en",
        "zh": "zh", "zh-cn": "zh", "zh-hans": "zh", "zh-hans-cn": "zh", "zh-sg": "zh"}
ACCEPTED = "en, en-US, zh, zh-CN, zh-Hans"


def language_of(tag: object) -> str | None:
    """'en' or 'zh' for a tag Horae speaks, else None."""
    if not isinstance(tag, str):
        return None
    return TAGS.get(tag.strip().lower().replace("_", "-"))


def parse_locale(tag: object, field: str = "locale") -> str:
    """'en' or 'zh'; InvalidInput naming ``field`` for any other value."""
    language = language_of(tag)
    if language is None:
        raise InvalidInput(field, f"must be one of {ACCEPTED}")
    return language


def from_accept_language(header: str | None) -> str:
    """The language of an ``Accept-Language`` header Horae speaks best ('en' when none):
    the tags by their q value, the first one written winning a tie."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            ranked.append((-q, index, tag))
    for _, _, tag in sorted(ranked):
        language = language_of(tag) or language_of(tag.split("-", 1)[0])
        if language is not None:
            return language
    return "en"
