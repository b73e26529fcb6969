"""Triggers from JSON-ready data (the inverse of ``Trigger.to_dict``), checked field by field.

Data arrives from the REST API, the CLI and the database, so every problem is reported as
InvalidInput with the dotted path of the offending value, e.g. ``trigger.triggers.1.tz``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.combine import MAX_DEPTH, MAX_MEMBERS, AnyTrigger
from horae.triggers.cron import CronTrigger
from horae.triggers.date import DateTrigger, instant_from_any
from horae.triggers.interval import IntervalTrigger

_ROOT = "trigger"
_KEYS = {
    "cron": ({"expr"}, {"tz"}),
    "interval": ({"seconds"}, {"anchor"}),
    "date": ({"at"}, {"tz"}),
    "any": ({"triggers"}, set()),
}


def trigger_from_dict(data: Mapping[str, Any]) -> Trigger:
    """The trigger ``data`` describes; InvalidInput for unknown kinds, missing or bad values."""
    return _build(data, _ROOT, depth=0)


def zone_of(data: Mapping[str, Any]) -> str | None:
    """The IANA zone a trigger's data is read and shown in: a cron's ``tz`` (default UTC),
    a date's ``tz`` when one was given; None for triggers without a zone."""
    kind = data.get("kind")
    tz = data.get("tz", "UTC" if kind == "cron" else None)
    return tz if kind in ("cron", "date") and isinstance(tz, str) else None


def _build(data: object, path: str, depth: int) -> Trigger:
    if not isinstance(data, Mapping):
        raise InvalidInput(path, f"expected an object with a 'kind' key, got {type(data).__name__}")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KEYS:
        kinds = ", ".join(_KEYS)
        raise InvalidInput(f"{path}.kind", f"expected one of {kinds}, got {kind!r}")
    required, optional = _KEYS[kind]
    for key in data:
        if key != "kind" and key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise InvalidInput(
                f"{path}.{key}", f"unknown key for a {kind} trigger; allowed keys: {allowed}"
            )
    for key in required:
        if key not in data:
            raise InvalidInput(f"{path}.{key}", f"missing; a {kind} trigger needs {key!r}")
    if kind == "any":
        return _any(data["triggers"], path, depth)
    builders: dict[str, Callable[[], Trigger]] = {
        "cron": lambda: _cron(data),
        "interval": lambda: IntervalTrigger(data["seconds"], data.get("anchor")),
        "date": lambda: _date(data),
    }
    with _rooted_at(path):
        return builders[kind]()


@contextmanager
def _rooted_at(path: str) -> Iterator[None]:
    """Constructors name fields from the root ("trigger.tz"); re-root them at ``path``."""
    try:
        yield
    except InvalidInput as error:
        if path == _ROOT or not error.field.startswith(_ROOT):
            raise
        raise InvalidInput(path + error.field[len(_ROOT) :], error.reason) from error


def _cron(data: Mapping[str, Any]) -> CronTrigger:
    expr, tz = data["expr"], data.get("tz", "UTC")
    if not isinstance(expr, str):
        raise InvalidInput(f"{_ROOT}.expr", f"expected a string, got {type(expr).__name__}")
    return CronTrigger(expr, tz)


def _date(data: Mapping[str, Any]) -> DateTrigger:
    # With "tz", an offset-less "at" string is a wall time in that zone (the console's editor
    # sends the wall time a person typed and lets the server apply the one DST rule).
    tz = data.get("tz")
    return DateTrigger(instant_from_any(data["at"], tz, f"{_ROOT}.at"), tz)


def _any(members: object, path: str, depth: int) -> AnyTrigger:
    field = f"{path}.triggers"
    if not isinstance(members, list | tuple):
        raise InvalidInput(field, f"expected a list of triggers, got {type(members).__name__}")
    if depth >= MAX_DEPTH:
        raise InvalidInput(field, f"combinations nest at most {MAX_DEPTH} deep")
    if len(members) > MAX_MEMBERS:
        raise InvalidInput(field, f"{len(members)} triggers given; at most {MAX_MEMBERS} combine")
    built = [_build(member, f"{field}.{i}", depth + 1) for i, member in enumerate(members)]
    with _rooted_at(path):
        return AnyTrigger(built)
