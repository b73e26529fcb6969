"""``app.runs``: ad-hoc runs, listing, cancel, retry, logs, and waiting for an outcome."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from horae.bulk import BulkRuns
from horae.errors import InvalidInput, NotFound
from horae.instants import to_epoch
from horae.models import TERMINAL_STATES, LogLine, Run, RunState
from horae.schedules import check_argument_types, fanout_fields, validate_policies
from horae.store import NewRun, RunFilter
from horae.store.bulk_queries import BulkOutcome
from horae.tasks import Task, validate_arguments

if TYPE_CHECKING:
    from horae.app import Horae


class RunManager:
    def __init__(self, app: Horae) -> None:
        self._app = app

    def create(
        self,
        task: str | Task,
        *,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        at: Any = None,
        delay: float | None = None,
        parent: int | None = None,
        **policies: Any,
    ) -> Run:
        """Queue one run of ``task`` now, at ``at``, or after ``delay`` seconds.

        ``parent``: the id of an existing run (``ctx.run_id`` in a task) this one is a child
        of: it is listed among that run's children, and its outcome does not end the parent.
        """
        check_argument_types(args, kwargs)
        name = task.name if isinstance(task, Task) else task
        info = self._app.task_info(name)
        pol = validate_policies({"queue": info.queue, "retries": info.retries,
                                 "timeout": info.timeout} | policies)
        kwargs = dict(kwargs or {})
        validate_arguments(name, info.schema, list(args), kwargs)
        if at is not None and delay is not None:
            raise InvalidInput("at", "give either at or delay, not both")
        wait = 0.0
        if delay is not None:
            if not isinstance(delay, int | float) or delay < 0:
                raise InvalidInput("delay", "must be a number of seconds >= 0")
            wait = float(delay)
        elif at is not None:
            wait = max(0.0, to_epoch(at, "at") - self._app.store.now())
        if parent is not None:
            if isinstance(parent, bool) or not isinstance(parent, int):
                raise InvalidInput("parent", "must be a run id (a whole number)")
            try:
                self._app.store.run_get(parent)
            except NotFound:
                raise InvalidInput("parent", f"no run {parent}") from None
        return self._app.store.runs_add([NewRun(
            name, list(args), kwargs, pol.queue, pol.priority, delay=wait, parent_id=parent,
            max_attempts=pol.retries + 1, retry_backoff=pol.retry_backoff,
            retry_backoff_max=pol.retry_backoff_max, timeout=pol.timeout,
            **fanout_fields(pol),
        )])[0]

    def cancel_many(self, *, dry_run: bool = False, **filters: Any) -> BulkOutcome:
        """Cancel every run of a ``schedule``, ``task``, ``queue`` or ``tag`` (at least
        one) in ``states`` (default the waiting ones; ``running`` asks running ones to
        stop), in one transaction. ``dry_run``: only count them, by state. See
        :mod:`horae.bulk`."""
        return BulkRuns(self._app).cancel(dry_run=dry_run, **filters)

    def retry_many(self, *, dry_run: bool = False, **filters: Any) -> BulkOutcome:
        """Retry every run of a ``schedule``, ``task``, ``queue`` or ``tag`` that ended in
        ``states`` (default failed, timed_out, lost) and was not retried yet: one new run
        each, in one transaction. ``dry_run``: only count them."""
        return BulkRuns(self._app).retry(dry_run=dry_run, **filters)

    def get(self, run_id: int) -> Run:
        return self._app.store.run_get(run_id)

    def cancel(self, run_id: int) -> Run:
        return self._app.store.run_cancel(run_id)

    def retry(self, run_id: int) -> Run:
        return self._app.store.run_retry(run_id)

    def logs(self, run_id: int, after_id: int = 0) -> list[LogLine]:
        self._app.store.run_get(run_id)  # NotFound for an unknown run
        return self._app.store.run_logs(run_id, after_id=after_id)

    def wait(self, run_id: int, timeout: float = 60.0, interval: float = 0.05) -> Run:
        """Block until the run reaches a terminal state; TimeoutError after ``timeout`` s."""
        return wait_until_ended(self.get, run_id, timeout, interval)

    def list(self, **filters: Any) -> list[Run]:
        states = filters.pop("states", None) or ()
        state = filters.pop("state", None)
        if state:
            states = (*states, state)
        for s in states:
            if s not in RunState.__members__.values():
                raise InvalidInput("state", f"unknown state {s!r}; known: "
                                            + ", ".join(x.value for x in RunState))
        return self._app.store.run_list(RunFilter(states=tuple(states), **filters))


def wait_until_ended(get: Callable[[int], Run], run_id: int, timeout: float,
                     interval: float) -> Run:
    """Poll ``get(run_id)`` until the run is terminal (shared by the local and remote
    clients); TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        run = get(run_id)
        if run.state in TERMINAL_STATES:
            return run
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"run {run_id} is still {run.state.value} after {timeout}s")
        time.sleep(min(interval, left))
