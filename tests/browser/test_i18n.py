"""Every message the templates and scripts show has a Simplified Chinese translation,
and Accept-Language picks the language. No browser needed."""

from __future__ import annotations

import re
from importlib import resources

from horae.console import i18n
from horae.console.app import _PAGES

ROOT = resources.files("horae.console")
DYNAMIC = [  # messages built from data: run states, roles, origins, policies, field labels
    "scheduled", "queued", "running", "retrying", "succeeded", "failed", "timed_out",
    "cancelled", "skipped", "missed", "lost", "viewer", "operator", "editor", "admin",
    "manual", "schedule", "retry", "skip", "queue_one", "allow", "cancel_previous", "latest",
    "all", "none", "Origin", "Finished", "Retry of", "Fires", "Successes", "Failures",
    "Version", "That token is not valid.", "Paused {id}.", "Resumed {id}.",
    "user", "disabled", "active", "Enabled {name}.", "Disabled {name}.",
    "That user name and password do not match.",
    "Too many failed sign-ins from this address; try again in a minute.",
    "The current password is wrong.", "The two new passwords differ.",
    "The new password must be at least 12 characters long.",
]


def used_messages() -> set[str]:
    found = set(DYNAMIC) | {title for *_, title in _PAGES}
    for f in ROOT.joinpath("templates").iterdir():
        text = f.read_text(encoding="utf-8")
        found |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"', text))
        found |= set(re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'", text))
        for block in re.findall(r"\{% for [^%]*\[(.*?)\] %\}", text):
            found |= set(re.findall(r'"([A-Z][^"]*)"', block))
    for f in ROOT.joinpath("static").iterdir():
        if f.name.endswith(".js"):
            found |= set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"',
                                    f.read_text(encoding="utf-8")))
    return {m for m in found if not m.startswith("/")}


def test_every_message_has_a_chinese_translation() -> None:
    zh = i18n.catalogue("zh-CN")
    missing = sorted(m for m in used_messages() if m not in zh)
    assert not missing, f"add to messages/zh-CN.json: {missing}"


def test_placeholders_survive_translation() -> None:
    for source, target in i18n.catalogue("zh-CN").items():
        assert set(re.findall(r"\{\w+\}", source)) == set(re.findall(r"\{\w+\}", target)), source


def test_language_comes_from_the_cookie_then_accept_language() -> None:
    assert i18n.choose(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert i18n.choose(None, "en-US,zh;q=0.5") == "en"
    assert i18n.choose(None, "fr, zh-TW;q=0.7") == "zh-CN"
    assert i18n.choose(None, "de") == "en"
    assert i18n.choose("en", "zh-CN") == "en"
    assert i18n.choose("zh-CN", None) == "zh-CN"
    assert i18n.choose("xx", None) == "en"
