"""Every message the templates and scripts show has a Simplified Chinese translation,
and the catalogue has no key the console does not show (the two languages have the same
keys); Accept-Language picks the language. No browser needed."""

from __future__ import annotations

import ast
import calendar
import re
from importlib import resources

from horae.console import i18n
from horae.console.app import _PAGES
from horae.reasons import PARAM_WORDS, REASONS
from horae.triggers.cron_parser import DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, SECOND

ROOT = resources.files("horae.console")
DYNAMIC = [  # messages built from data: run states, roles, origins, policies, kinds
    "scheduled", "queued", "running", "retrying", "succeeded", "failed", "timed_out",
    "cancelled", "skipped", "missed", "lost", "viewer", "operator", "editor", "admin",
    "manual", "schedule", "retry", "backfill", "skip", "queue_one", "allow", "cancel_previous",
    "latest", "all", "none", "user", "run", "token", "disabled", "active", "broadcast",
    "shard", "draining", "gone",
]


def _js_messages(text: str) -> set[str]:
    """What a script passes to t(): literals, the labels of field rows (["Task", value]),
    chart series (label: "failed") and arrays of headings mapped through t."""
    found = set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', text))
    for pair in re.findall(r'\bt\(\s*[^,"()]*\?\s*"([^"]+)"\s*:\s*"([^"]+)"', text):
        found |= set(pair)
    found |= set(re.findall(r'\[\s*"([A-Z][^"]*)",\s*(?!")', text))
    found |= set(re.findall(r'\blabel:\s*"([^"]+)"', text))
    for block in re.findall(r'\[((?:\s*"[^"]*",?)+)\]\.map\(', text):
        found |= set(re.findall(r'"([^"]*)"', block))
    return found


def _python_messages(text: str) -> set[str]:
    """Sentences the console's Python code renders: titles (``title="..."``) and every
    string constant that is a sentence (capitalised, ends with a full stop), docstrings
    aside."""
    tree = ast.parse(text)
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "title" and isinstance(
                node.value, ast.Constant) and isinstance(node.value.value, str):
            found.add(node.value.value)
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings
                and re.fullmatch(r"[A-Z][^\n{}`]* [^\n{}`]*\.", node.value)):
            found.add(node.value)
    return found


def used_messages() -> set[str]:
    """Every message the console may show: extracted from its templates, scripts and
    Python code, plus the error-reason templates (horae.reasons) and their translated
    params (cron field names, months)."""
    found = set(DYNAMIC) | {title for *_, title in _PAGES} | set(REASONS.values())
    found |= set(PARAM_WORDS)
    found |= {kind.label for kind in (SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)}
    found |= set(calendar.month_name[1:])
    for f in ROOT.joinpath("templates").iterdir():
        text = f.read_text(encoding="utf-8")
        found |= set(re.findall(r'_\(\s*"((?:[^"\\]|\\.)*)"', text))
        found |= set(re.findall(r"_\(\s*'((?:[^'\\]|\\.)*)'", text))
        for block in re.findall(r"\{% for [^%]*\[(.*?)\] %\}", text):
            found |= set(re.findall(r'"([A-Z][^"]*)"', block))
    for f in ROOT.joinpath("static").iterdir():
        if f.name.endswith(".js"):
            found |= _js_messages(f.read_text(encoding="utf-8"))
    for f in ROOT.iterdir():
        if f.name.endswith(".py"):
            found |= _python_messages(f.read_text(encoding="utf-8"))
    return {m for m in found if not m.startswith("/")}


def test_every_message_has_a_chinese_translation() -> None:
    zh = i18n.catalogue("zh-CN")
    missing = sorted(m for m in used_messages() if m not in zh)
    assert not missing, f"add to messages/zh-CN.json: {missing}"


def test_every_chinese_translation_has_an_english_message() -> None:
    """A key nobody shows any more (renamed in the code, not in the catalogue) is a
    translation out of step with the English: the two languages must have the same keys."""
    stale = sorted(set(i18n.catalogue("zh-CN")) - used_messages())
    assert not stale, f"not shown anywhere; rename or remove in messages/zh-CN.json: {stale}"


def test_the_extraction_finds_what_the_console_shows() -> None:
    """The test above is only as good as the extraction: it must see each kind of call."""
    used = used_messages()
    for message in ("Fired runs succeeded", "Queued", "Sign in", "That token is not valid.",
                    "The two new passwords differ.", "cancelled", "Dashboard",
                    "day-of-month", "February", REASONS["cron.out_of_range"]):
        assert message in used, message


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
    for tag in ("zh", "zh-Hans", "zh_CN", "ZH-cn"):  # every tag horae.locales accepts
        assert i18n.choose(tag, "en") == "zh-CN", tag
    assert i18n.choose("en-US", "zh-CN") == "en"
