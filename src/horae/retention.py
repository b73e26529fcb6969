"""Retention: the scheduler's pass that deletes old runs, log lines and events.

It runs in a thread of its own beside the fire loop, so a long backlog never delays a
fire: each batch is one short transaction (see ``store/retention.py``), batches are
separated by a pause in which fire passes and outcomes take the write lock (SQLite), and
once nothing old is left the thread sleeps ``retention_interval``. Any number of
schedulers may run it at once: PostgreSQL's ``SKIP LOCKED`` and SQLite's write lock keep
their deletes apart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from horae.config import RetentionSettings
from horae.store.retention import Cursor, Pruned

if TYPE_CHECKING:
    from horae.store import Store

log = logging.getLogger("horae.retention")

#: Events are small rows with one index: a batch of them costs about what a run does.
EVENTS_PER_RUN_BATCH = 5
#: Pages (4 KiB each by default) a SQLite pass gives back to the file system, at most.
RELEASE_PAGES = 2048


def prune(store: Store, settings: RetentionSettings, *, runs_age: float | None,
          max_batches: int | None = None, dry_run: bool = False) -> Pruned:
    """Everything due under ``settings`` (with ``runs_age`` in seconds; None: keep runs),
    from the oldest, in batches; ``max_batches`` bounds each kind. What ``horae runs prune``
    does, and what a retention pass does a bounded piece of."""
    job = _Job(store, settings)
    total = Pruned()
    while not job.step(runs_age, dry_run=dry_run, into=total):
        if max_batches is not None and job.batches >= max_batches:
            break
    return total


@dataclass
class _Job:
    """One walk over the runs and events due for deletion, a batch at a time."""

    store: Store
    settings: RetentionSettings
    runs_cursor: Cursor | None = None
    events_after: int = 0
    runs_done: bool = False
    events_done: bool = False
    batches: int = 0

    def step(self, runs_age: float | None, *, dry_run: bool, into: Pruned) -> bool:
        """One batch of runs, then of events; True when both are done."""
        s = self.settings
        self.batches += 1
        if runs_age is None:
            self.runs_done = True
        elif not self.runs_done:
            got = self.store.runs_prune_batch(
                runs_age, keep_per_schedule=s.runs_keep_per_schedule, batch=s.retention_batch,
                after=self.runs_cursor, dry_run=dry_run)
            into.add(got)
            self.runs_cursor, self.runs_done = got.cursor, got.cursor is None
        if not self.events_done:
            n, after = self.store.events_prune_batch(
                s.events_age(runs_age), keep_max=s.events_keep_max,
                batch=s.retention_batch * EVENTS_PER_RUN_BATCH, after=self.events_after,
                dry_run=dry_run)
            into.events += n
            self.events_done = after is None
            if dry_run and after is not None:
                self.events_after = after
        return self.runs_done and self.events_done


class Retention:
    """The automatic pass: started by the scheduler, in its own thread."""

    def __init__(self, store: Store, settings: RetentionSettings, *,
                 max_batches: int = 10, pause: float = 0.05) -> None:
        self.store = store
        self.settings = settings
        self.max_batches = max_batches  # per pass, then the thread looks at stopping
        self.pause = pause  # seconds between batches while a backlog remains
        self.passes = 0  # completed passes: lets tests wait without sleeping
        self.total = Pruned()
        self._job: _Job | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="horae-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> bool:
        """Up to ``max_batches`` batches of the current walk; True when it is complete
        (the next pass starts a new walk from the oldest)."""
        job = self._job = self._job or _Job(self.store, self.settings)
        done = False
        got = Pruned()
        for i in range(self.max_batches):
            if i and self._stopping.wait(self.pause):
                break
            done = job.step(self.settings.runs_age, dry_run=False, into=got)
            if done:
                break
        if done:
            self._job = None
            self.store.sqlite_release_free_pages(RELEASE_PAGES)
        if got.runs or got.events:
            log.info("retention: deleted %d runs, %d log lines, %d events",
                     got.runs, got.logs, got.events)
        self.total.add(got)
        self.passes += 1
        return done

    def _loop(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                done = self.run_once()
                delay, backoff = (self.settings.retention_interval if done else self.pause), 1.0
            except Exception as exc:  # the database is away: the next pass tries again
                log.warning("retention pass failed (%s); retrying in %.0fs", exc, backoff)
                delay, backoff = backoff, min(backoff * 2, self.settings.retention_interval)
                self._job = None
            self._stopping.wait(delay)
