"""What a hook receives: :class:`HookEvent`, made from one row of the event log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from horae.models import Run
from horae.store.hook_queries import LoggedEvent

#: The events a hook can be registered for (besides the wildcards ``run.*`` and ``*``).
RUN_EVENTS = ("run.started", "run.succeeded", "run.failed", "run.timed_out", "run.lost",
              "run.cancelled", "run.skipped", "run.missed", "run.retrying")
EVENT_NAMES = (*RUN_EVENTS, "schedule.changed", "worker.gone")
WILDCARDS = ("run.*", "*")

# A run's state as the log records it -> the hook event; waiting states have none.
_RUN_STATE_EVENTS = {"running": "run.started",
                     **{name.split(".", 1)[1]: name for name in RUN_EVENTS[1:]}}


@dataclass
class HookEvent:
    """One event, as hooks see it.

    ``kind`` is one of :data:`EVENT_NAMES`; ``id`` is its id in the event log (the same as
    ``GET /api/v1/events``), growing in the order hooks are called. Run events carry the
    run's ``run_id``, ``task``, ``state``, ``attempt`` (1 for the first), ``max_attempts``,
    ``error`` (failed, timed_out, lost, retrying, missed, skipped and cancelled runs say
    why) and ``duration`` (seconds, for a run that ended after it started). Schedule events
    carry ``schedule_id`` and ``change``: ``created``, ``updated``, ``paused``, ``resumed``
    or ``removed``. ``worker.gone`` carries ``worker_id``. ``at`` is when it happened (UTC
    epoch seconds). :attr:`run` fetches the whole run on first use (one read).
    """

    id: int
    kind: str
    at: float
    run_id: int | None = None
    schedule_id: str | None = None
    task: str | None = None
    state: str | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    error: str | None = None
    duration: float | None = None
    change: str | None = None
    worker_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    _fetch: Callable[[int], Run] | None = field(default=None, repr=False, compare=False)
    _run: Run | None = field(default=None, repr=False, compare=False)

    @property
    def run(self) -> Run | None:
        """The run as it is now (None for schedule and worker events, or a deleted run)."""
        if self._run is None and self.run_id is not None and self._fetch is not None:
            try:
                self._run = self._fetch(self.run_id)
            except LookupError:  # deleted by retention since
                return None
        return self._run


def hook_event(row: LoggedEvent, fetch: Callable[[int], Run] | None = None) -> HookEvent | None:
    """The hook event a logged event is, or None when hooks have none for it (progress,
    log lines, a run entering a waiting state)."""
    data = row.data
    if row.kind == "run.state":
        kind = _RUN_STATE_EVENTS.get(str(data.get("state")))
        if kind is None:
            return None
        duration = None
        if kind != "run.started" and row.finished_at is not None and row.started_at is not None:
            duration = row.finished_at - row.started_at
        return HookEvent(row.id, kind, row.ts, run_id=row.run_id, schedule_id=row.schedule_id,
                         task=data.get("task"), state=data.get("state"),
                         attempt=data.get("attempt"), max_attempts=row.max_attempts,
                         error=data.get("error"), duration=duration,
                         worker_id=data.get("worker_id"), data=data, _fetch=fetch)
    if row.kind.startswith("schedule."):
        return HookEvent(row.id, "schedule.changed", row.ts, schedule_id=row.schedule_id,
                         change=_schedule_change(row.kind, data), data=data)
    if row.kind == "worker.gone":
        return HookEvent(row.id, "worker.gone", row.ts, worker_id=data.get("worker_id"),
                         data=data)
    return None


def _schedule_change(kind: str, data: dict[str, Any]) -> str:
    if kind == "schedule.created":
        return "created"
    if kind == "schedule.deleted":
        return "removed"
    was, now = data.get("was_paused"), data.get("paused")
    if was is not None and bool(was) != bool(now):
        return "paused" if now else "resumed"
    return "updated"
