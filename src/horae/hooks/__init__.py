"""In-process hooks on run, schedule and worker events (``@app.on("run.failed")``).

``registry`` keeps what a process registered, ``events`` turns rows of the event log into
:class:`HookEvent`, ``dispatcher`` delivers them from a durable, leased cursor.
"""

from horae.hooks.events import EVENT_NAMES, WILDCARDS, HookEvent
from horae.hooks.registry import HookRegistry

__all__ = ["EVENT_NAMES", "WILDCARDS", "HookEvent", "HookRegistry"]
