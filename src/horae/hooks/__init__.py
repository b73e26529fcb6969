"""In-process hooks on run, schedule and worker events (``@app.on("run.failed")``).

``registry`` keeps what a process registered, ``events`` turns rows of the event log into
:class:`HookEvent`, ``follower`` delivers a consumer's events from a durable, leased
cursor (reusable by other consumers), ``dispatcher`` is the follower that calls the hooks.
"""

from horae.hooks.events import EVENT_NAMES, WILDCARDS, HookEvent
from horae.hooks.registry import HookRegistry

__all__ = ["EVENT_NAMES", "WILDCARDS", "HookEvent", "HookRegistry"]
