"""The trigger contract.

A trigger is pure: given an instant it returns the next fire instant, with no I/O and no
clock of its own. Instants are UTC epoch seconds (``float``) because the scheduler handles
them in bulk; :func:`horae.triggers.preview` gives ``datetime`` objects to people.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class Trigger(ABC):
    """When a schedule is due.

    Contract:
    - ``next_fire(after)`` returns the first fire instant strictly greater than ``after``,
      or ``None`` when the trigger will never fire again.
    - Successive calls ``t = next_fire(t)`` yield strictly increasing instants.
    - The result depends only on the trigger's data and ``after``; CPU per call is bounded
      even for hostile input.
    - ``to_dict()`` round-trips through :func:`horae.triggers.trigger_from_dict`.
    """

    kind: ClassVar[str]

    @abstractmethod
    def next_fire(self, after: float) -> float | None:
        """First fire instant strictly after ``after`` (UTC epoch seconds), or ``None``."""

    @abstractmethod
    def describe(self, locale: str = "en") -> str:
        """A sentence for people, e.g. "At 02:00 on Monday (Asia/Shanghai)"."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data with a ``kind`` key."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trigger) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_dict().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"
