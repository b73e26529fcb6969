"""Combinations of triggers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from horae.errors import InvalidInput
from horae.triggers.base import Trigger
from horae.triggers.descriptions import describe_any

TRIGGERS_FIELD = "trigger.triggers"
# Bounds keep one schedule's next_fire cheap and stop hostile documents from recursing deeply.
MAX_MEMBERS = 100
MAX_DEPTH = 8


def _depth(trigger: Trigger) -> int:
    if isinstance(trigger, AnyTrigger):
        return 1 + max(_depth(member) for member in trigger.triggers)
    return 0


class AnyTrigger(Trigger):
    """Fires whenever any member fires; members firing at the same instant fire it once."""

    kind: ClassVar[str] = "any"

    def __init__(self, triggers: Iterable[Trigger]) -> None:
        members = tuple(triggers)
        if not members:
            raise InvalidInput(TRIGGERS_FIELD, "give at least one trigger to combine")
        if len(members) > MAX_MEMBERS:
            raise InvalidInput(
                TRIGGERS_FIELD, f"{len(members)} triggers given; at most {MAX_MEMBERS} combine"
            )
        for index, member in enumerate(members):
            if not isinstance(member, Trigger):
                raise InvalidInput(
                    f"{TRIGGERS_FIELD}.{index}",
                    f"expected a trigger (cron, interval, at...), got {type(member).__name__}",
                )
        self.triggers = members
        if _depth(self) > MAX_DEPTH:
            raise InvalidInput(TRIGGERS_FIELD, f"combinations nest at most {MAX_DEPTH} deep")

    def next_fire(self, after: float) -> float | None:
        # The minimum is the dedupe: equal instants from several members are one answer.
        fires = [t for t in (member.next_fire(after) for member in self.triggers) if t is not None]
        return min(fires) if fires else None

    def describe(self, locale: str = "en") -> str:
        return describe_any([_describe_member(member, locale) for member in self.triggers], locale)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "triggers": [member.to_dict() for member in self.triggers]}


def _describe_member(member: Trigger, locale: str) -> str:
    try:
        return member.describe(locale)
    except Exception:  # a third-party member must not break the sentence
        return repr(member)


def any_of(*triggers: Trigger) -> AnyTrigger:
    """Fires when any of ``triggers`` fires."""
    return AnyTrigger(triggers)
