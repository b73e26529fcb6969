"""Errors Horae raises to its users. Each one says what is wrong and where."""

from __future__ import annotations


class HoraeError(Exception):
    """Base class of every error Horae raises on purpose."""


class InvalidInput(HoraeError, ValueError):
    """Input that Horae refuses; nothing was written.

    ``field`` is a dotted path to the offending value (``trigger.expr``, ``kwargs.port``),
    ``reason`` a sentence a person can act on.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def text_problem(value: str) -> str | None:
    """Why the databases cannot store ``value`` as text (a NUL, a lone surrogate), or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    return None


class NotFound(HoraeError, LookupError):
    """The named schedule, run or task does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(HoraeError):
    """The request conflicts with the current state (duplicate id, lost update, terminal run)."""
