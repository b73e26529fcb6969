"""The hooks a process registered with ``@app.on``, and which of them an event calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from horae.errors import InvalidInput
from horae.hooks.events import EVENT_NAMES, WILDCARDS

Hook = Callable[[Any], Any]

#: The consumer (cursor and lease) the hooks of an app share unless told otherwise:
#: every process that registers the same hooks under one name delivers each event once.
DEFAULT_CONSUMER = "hooks"


@dataclass(frozen=True)
class Registered:
    event: str
    func: Hook
    name: str

    def matches(self, kind: str) -> bool:
        return (self.event == kind or self.event == "*"
                or (self.event == "run.*" and kind.startswith("run.")))


class HookRegistry:
    """Hooks in registration order; an event calls those that match it, in that order.

    ``consumer`` names the durable cursor and lease the app's dispatcher uses; ``lease`` is
    how long (seconds) a silent process keeps the delivery before another takes over.
    """

    def __init__(self) -> None:
        self._hooks: list[Registered] = []
        self.consumer = DEFAULT_CONSUMER
        self.lease = 30.0

    def add(self, event: str, func: Hook, name: str | None = None) -> Hook:
        """Register ``func`` for ``event``; InvalidInput naming ``event`` or ``func``."""
        self.check_event(event)
        if not callable(func):
            raise InvalidInput("func", f"a hook must be callable, not {type(func).__name__}")
        label = name or f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"
        self._hooks.append(Registered(event, func, label))
        return func

    @staticmethod
    def check_event(event: object) -> None:
        """InvalidInput naming ``event`` unless it is a known event name or wildcard."""
        if not isinstance(event, str) or event not in (*EVENT_NAMES, *WILDCARDS):
            raise InvalidInput("event", f"unknown event {event!r}; known events: "
                                        f"{', '.join((*EVENT_NAMES, *WILDCARDS))}")

    def for_kind(self, kind: str) -> list[Registered]:
        return [h for h in self._hooks if h.matches(kind)]

    def __iter__(self) -> Iterator[Registered]:
        return iter(self._hooks)

    def __len__(self) -> int:
        return len(self._hooks)
