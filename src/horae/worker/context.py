"""What a running task sees: ``ctx`` with its run, progress, logs and cancellation.

Log capture: while a run executes, records of any logger and ``print`` output in that
run's thread or asyncio task are routed to the run (a context variable says which run).
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from horae.models import LogLine
from horae.store import ClaimedRun

_current: contextvars.ContextVar[RunTracker | None] = contextvars.ContextVar(
    "horae_current_run", default=None
)
MAX_LOG_LINE = 8000


class Cancelled(Exception):
    """Raised by :meth:`Context.check_cancelled` when the run was asked to stop."""


class Flag:
    """A flag set once from any thread and read by the task (``ctx.cancelled``).

    Nobody waits on it, so it is a plain attribute (assignment is atomic) rather than a
    ``threading.Event``, whose condition and lock cost more than a no-op run itself.
    """

    __slots__ = ("_set", "reason")

    def __init__(self) -> None:
        self._set = False
        #: Why the run was asked to stop: "cancel", "timeout" or "drain" (None if unknown).
        self.reason: str | None = None

    def set(self, reason: str | None = None) -> None:
        if reason is not None and self.reason is None:
            self.reason = reason
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclass
class RunTracker:
    """Mutable, thread-safe state of one executing run, flushed by the worker."""

    run: ClaimedRun
    logs: list[LogLine] = field(default_factory=list)
    progress: tuple[float | None, str | None] | None = None
    cancel: Flag = field(default_factory=Flag)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, level: str, message: str) -> None:
        with self.lock:
            self.logs.append(LogLine(self.run.id, time.time(), level, message[:MAX_LOG_LINE]))

    def set_progress(self, fraction: float | None, message: str | None) -> None:
        with self.lock:
            self.progress = (fraction, message)

    def take(self) -> tuple[list[LogLine], tuple[float | None, str | None] | None]:
        if not self.logs and self.progress is None:  # the common case: nothing to take
            return [], None
        with self.lock:
            logs, self.logs = self.logs, []
            progress, self.progress = self.progress, None
        return logs, progress


class Context:
    """Handed to tasks that declare a ``ctx`` parameter."""

    def __init__(self, tracker: RunTracker, worker_id: str) -> None:
        self._tracker = tracker
        run = tracker.run
        self.run_id = run.id
        self.attempt = run.attempt
        #: Attempts this run may make in all (retries + 1).
        self.max_attempts = run.max_attempts
        self.task = run.task
        self.schedule_id = run.schedule_id
        self.fire_time = run.fire_time
        self.shard_index = run.shard_index
        self.shard_total = run.shard_total
        #: The run this one is a child of (a workflow run, a fan-out parent, or the run
        #: that created it with ``runs.create(parent=...)``), else None.
        self.parent_id = run.parent_id
        #: The workflow step this run is (or ``on_success``...), else None.
        self.step = run.step
        #: In a workflow: the predecessors' results by step id (a mapped step's: the list
        #: of its runs' results in item order; a callback's: every step's). Else {}.
        self.inputs: dict[str, Any] = dict(run.inputs or {})
        self.worker_id = worker_id
        self.logger = logging.getLogger(f"horae.task.{run.task}")

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now ends the run (no retry comes after this attempt):
        the place for a task's own "it really failed" handling."""
        return self.attempt >= self.max_attempts

    def progress(self, fraction: float | None, message: str | None = None) -> None:
        """Report progress: ``fraction`` in [0, 1] (None when unknown) and a short message."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self._tracker.set_progress(fraction, message)

    @property
    def cancelled(self) -> bool:
        """True once cancellation or a timeout was asked; sync tasks should return early."""
        return self._tracker.cancel.is_set()

    @property
    def stop_reason(self) -> str | None:
        """Why ``cancelled`` is true: "cancel" (asked by someone), "timeout" (the run's
        timeout passed) or "drain" (this worker is stopping and gives the run back to the
        queue: work done elsewhere on its behalf should go on); None while not asked."""
        return self._tracker.cancel.reason if self.cancelled else None

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled(f"run {self.run_id} was cancelled")


def place_context(args: list[Any], kwargs: dict[str, Any], position: int | None,
                  ctx: Context) -> None:
    """Put ``ctx`` among positional ``args`` when they reach its place, else by name."""
    if position is not None and len(args) > position:
        args.insert(position, ctx)
    else:
        kwargs["ctx"] = ctx


def current_tracker() -> RunTracker | None:
    return _current.get()


def bind(tracker: RunTracker | None) -> contextvars.Token[RunTracker | None]:
    """Make ``tracker`` the current run of this thread or asyncio task."""
    LogCapture.install()
    return _current.set(tracker)


def unbind(token: contextvars.Token[RunTracker | None]) -> None:
    _current.reset(token)


class _RunLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        tracker = _current.get()
        if tracker is not None:
            try:
                tracker.log(record.levelname, self.format(record))
            except Exception:  # a broken record must not break the task
                self.handleError(record)


class _PrintRouter(io.TextIOBase):
    """Stands in for sys.stdout/stderr: a run's prints go to its log, others pass through."""

    def __init__(self, target: TextIO, level: str) -> None:
        self.target = target
        self._level = level
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        tracker = _current.get()
        if tracker is None:
            return self.target.write(text)
        key = id(tracker)
        buffered = self._partial.pop(key, "") + text
        *lines, rest = buffered.split("\n")
        for line in lines:
            tracker.log(self._level, line)
        if rest:
            self._partial[key] = rest
        return len(text)

    @property
    def partial(self) -> bool:
        """Whether some run has an unterminated line here."""
        return bool(self._partial)

    def flush(self) -> None:
        self.target.flush()

    def flush_run(self, tracker: RunTracker) -> None:
        rest = self._partial.pop(id(tracker), "")
        if rest:
            tracker.log(self._level, rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


class LogCapture:
    """Routes a run's log records and prints to the run.

    The handler and the stdout/stderr routers are (re)installed at the start of every run,
    because test runners and frameworks swap ``sys.stdout`` behind our back; when no run is
    bound they pass everything through unchanged.
    """

    _lock = threading.Lock()
    _handler: _RunLogHandler | None = None

    @classmethod
    def install(cls) -> None:
        if (isinstance(sys.stdout, _PrintRouter) and isinstance(sys.stderr, _PrintRouter)
                and cls._handler is not None and cls._handler in logging.root.handlers):
            return  # in place already: what every run but the first finds, without the lock
        with cls._lock:
            if cls._handler is None:
                cls._handler = _RunLogHandler()
                cls._handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root = logging.getLogger()
            if cls._handler not in root.handlers:
                root.addHandler(cls._handler)
            task_logger = logging.getLogger("horae.task")
            if task_logger.level == logging.NOTSET:
                task_logger.setLevel(logging.INFO)
            if not isinstance(sys.stdout, _PrintRouter):
                sys.stdout = _PrintRouter(sys.stdout, "INFO")
            if not isinstance(sys.stderr, _PrintRouter):
                sys.stderr = _PrintRouter(sys.stderr, "ERROR")

    @classmethod
    def uninstall(cls) -> None:
        with cls._lock:
            if cls._handler is not None:
                logging.getLogger().removeHandler(cls._handler)
            for name in ("stdout", "stderr"):
                stream = getattr(sys, name)
                if isinstance(stream, _PrintRouter):
                    setattr(sys, name, stream.target)

    @staticmethod
    def finish(tracker: RunTracker) -> None:
        """Flush a run's unterminated print line into its log."""
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _PrintRouter) and stream.partial:
                stream.flush_run(tracker)
