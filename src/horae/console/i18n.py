"""Languages of the console: English (the source text) and Simplified Chinese.

Every visible string is an English message; ``messages/zh-CN.json`` maps each one to its
translation. Templates call ``_("...")``; the browser script gets the catalogue of the
chosen language and calls ``t("...")``. The language is the ``horae_lang`` cookie (set by
the switcher), else the best match of ``Accept-Language``, else English.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from horae.locales import language_of

LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
LANG_COOKIE = "horae_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    if lang == "en":
        return {}
    text = resources.files("horae.console").joinpath("messages", f"{lang}.json").read_text(
        encoding="utf-8")
    data: dict[str, str] = json.loads(text)
    return data


@cache
def reasons(lang: str) -> dict[str, str]:
    """code -> the template of each known error reason (horae.reasons) in ``lang``: the
    console shows a refusal from the API in the page's language, filled with its params."""
    from horae.reasons import REASONS

    messages = catalogue(lang)
    return {code: messages.get(template, template) for code, template in REASONS.items()}


def translator(lang: str) -> Callable[..., str]:
    messages = catalogue(lang)

    def translate(message: str, **values: Any) -> str:
        text = messages.get(message, message)
        return text.format(**values) if values else text

    return translate


def page_language(tag: object) -> str | None:
    """The console's language for any tag Horae accepts (``zh``, ``zh-Hans``, ``en-US``...:
    horae.locales), else None."""
    language = language_of(tag)
    return None if language is None else "zh-CN" if language == "zh" else "en"


def choose(cookie: str | None, accept_language: str | None) -> str:
    if (from_cookie := page_language(cookie)) is not None:
        return from_cookie
    for tag in _ranked(accept_language or ""):
        primary = tag.split("-", 1)[0]
        if primary == "zh":
            # Traditional-script tags are not served; Simplified is closer than English.
            return "zh-CN"
        if primary == "en":
            return "en"
    return "en"


def _ranked(header: str) -> list[str]:
    """Language tags by their q value (highest first), as written order breaks ties."""
    found: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            found.append((-q, index, tag.lower()))
    return [tag for _, _, tag in sorted(found)]
