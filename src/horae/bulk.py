"""Bulk operations: cancel or retry every run of a schedule, task, queue or tag; pause or
resume every schedule of a tag. Each one counts first (``dry_run=True``), which is what a
confirmation shows, then changes what the filter matches in one transaction.

A filter must name at least one of schedule, task, queue or tag: "cancel everything" is
not a bulk operation (stop the workers instead). Runs are chosen by state too: cancel
takes the waiting ones by default (``running`` too when asked: those are asked to stop),
retry the ones that ended badly and have not been retried yet, so running the same
retry twice queues each run once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from horae.errors import InvalidInput
from horae.store.bulk_queries import BulkOutcome, Selection, TooMany

if TYPE_CHECKING:
    from horae.app import Horae

#: Most rows one bulk operation may change: one transaction holds their locks (PostgreSQL)
#: or the single write lock (SQLite) until it commits; 100,000 runs take a second or two.
#: Past it the caller narrows the filter (by state, queue, task) or repeats.
MAX_BULK = 100_000
CANCELLABLE = ("queued", "scheduled", "retrying", "running")
RETRYABLE = ("failed", "timed_out", "lost", "cancelled")
DEFAULT_CANCEL = ("queued", "scheduled", "retrying")
DEFAULT_RETRY = ("failed", "timed_out", "lost")


def selection(*, schedule: str | None = None, task: str | None = None,
              queue: str | None = None, tag: str | None = None,
              states: Iterable[str] | str | None = None,
              allowed: tuple[str, ...], default: tuple[str, ...]) -> Selection:
    """A validated filter: at least one of schedule/task/queue/tag, states among
    ``allowed`` (InvalidInput naming the field otherwise)."""
    for name, value in (("schedule", schedule), ("task", task), ("queue", queue),
                        ("tag", tag)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInput(name, "must be a non-empty string")
    if schedule is None and task is None and queue is None and tag is None:
        raise InvalidInput("filter", "name at least one of schedule, task, queue or tag")
    if isinstance(states, str):
        states = [s for s in states.split(",") if s]
    chosen = tuple(dict.fromkeys(states)) if states is not None else default
    if not chosen:
        raise InvalidInput("states", "give at least one state")
    for state in chosen:
        if state not in allowed:
            raise InvalidInput("states", f"{state!r} is not one of {', '.join(allowed)}")
    return Selection(schedule, task, queue, tag, chosen)


def _too_many(error: TooMany) -> InvalidInput:
    return InvalidInput("filter", f"{error.count} match, more than the {error.limit} one bulk"
                                  " operation may change: narrow it (states, queue, task)")


class BulkRuns:
    """``app.runs.bulk``: cancel or retry the runs a filter matches."""

    def __init__(self, app: Horae) -> None:
        self._app = app

    def cancel(self, *, dry_run: bool = False, limit: int = MAX_BULK,
               **filters: Any) -> BulkOutcome:
        """Cancel the runs of ``schedule``/``task``/``queue``/``tag`` in ``states``
        (default: every waiting state; add ``running`` to ask running ones to stop)."""
        sel = selection(allowed=CANCELLABLE, default=DEFAULT_CANCEL, **filters)
        if dry_run:
            return BulkOutcome("runs.cancel", sel, self._app.store.runs_count_matching(sel),
                               dry_run=True)
        try:
            return self._app.store.runs_cancel_matching(sel, limit)
        except TooMany as error:
            raise _too_many(error) from None

    def retry(self, *, dry_run: bool = False, limit: int = MAX_BULK,
              **filters: Any) -> BulkOutcome:
        """Queue a new attempt (a run of origin ``retry``) of each matching run that ended
        in ``states`` (default: failed, timed_out, lost) and has not been retried yet."""
        sel = selection(allowed=RETRYABLE, default=DEFAULT_RETRY, **filters)
        if dry_run:
            counts = self._app.store.runs_count_matching(sel, retryable=True)
            return BulkOutcome("runs.retry", sel, counts, dry_run=True)
        try:
            return self._app.store.runs_retry_matching(sel, limit)
        except TooMany as error:
            raise _too_many(error) from None


def set_paused_by_tag(app: Horae, tag: str, paused: bool, *, dry_run: bool = False,
                      limit: int = MAX_BULK) -> BulkOutcome:
    """Pause (or resume) every schedule with ``tag`` that is not already so, in one
    transaction through the schedules' own write path (versions, notices, next fire)."""
    if not isinstance(tag, str) or not tag:
        raise InvalidInput("tag", "must be a non-empty string")
    action = "schedules.pause" if paused else "schedules.resume"
    try:
        ids = app.store.schedules_tagged(tag, paused=not paused, limit=limit)
    except TooMany as error:
        raise _too_many(error) from None
    out = BulkOutcome(action, Selection(tag=tag), {"active" if paused else "paused": len(ids)},
                      dry_run=dry_run)
    if dry_run or not ids:
        return out
    results = app.schedules.batch([{"op": "update", "id": sid, "paused": paused}
                                   for sid in ids], atomic=False)
    out.ids = [r.id for r in results if r.ok and r.id is not None]
    out.changed = len(out.ids)
    return out


def outcome_from_wire(data: dict[str, Any]) -> BulkOutcome:
    """A :class:`BulkOutcome` from its JSON form (``BulkOutcome.as_dict``, the API's)."""
    given = data.get("filter", {})
    states = given.get("states")
    sel = Selection(given.get("schedule"), given.get("task"), given.get("queue"),
                    given.get("tag"), tuple(states) if states else ())
    return BulkOutcome(data["action"], sel, dict(data.get("by_state", {})),
                       int(data.get("changed", 0)), bool(data.get("dry_run", False)))


def wire_request(filters: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """The body of a bulk request: the filters given, and ``dry_run``."""
    body = {k: v for k, v in filters.items() if v is not None}
    if isinstance(body.get("states"), str):
        body["states"] = [s for s in body["states"].split(",") if s]
    return body | {"dry_run": dry_run}
