"""The scheduler: a stateless loop over the database.

Each pass turns due fires into runs (see ``Store.schedules_fire_due``), tops running
backfills up to their concurrency bound (``Store.backfills_top_up``), then, at most once
per ``sweep_interval``, rescues runs whose lease expired, records waiting runs past their
``expire_after`` as missed (store/expiry.py) and marks silent workers gone.
Between passes it sleeps until the next due instant, or until told that a schedule
changed (in-process signal, PostgreSQL NOTIFY, or SQLite's change counter). Any number of
schedulers may run against one database: the store makes each fire happen once. Beside
the loop, a retention thread deletes old runs, log lines and events (horae.retention).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING

from horae.backfill import Window
from horae.config import RetentionSettings
from horae.models import Policies
from horae.policies import DueSchedule, FirePlan, plan_fires
from horae.retention import Retention
from horae.store import DueRow
from horae.store.connection import SQLiteDatabase
from horae.store.explain_queries import SEEN_EVERY
from horae.store.rows import policies_from_json
from horae.triggers import Trigger, trigger_from_dict
from horae.wakeup import Waker

if TYPE_CHECKING:
    from horae.app import Horae
    from horae.store import Store

log = logging.getLogger("horae.scheduler")


class Scheduler:
    def __init__(
        self,
        app: Horae,
        *,
        batch: int = 2000,
        max_sleep: float = 1.0,
        sweep_interval: float = 1.0,
        worker_timeout: float = 60.0,
        change_poll: float = 0.02,
        retention: RetentionSettings | None = None,
    ) -> None:
        self.app = app
        self.batch = batch
        self.max_sleep = max_sleep
        self.sweep_interval = sweep_interval
        self.worker_timeout = worker_timeout
        self.change_poll = change_poll
        self._rng = random.Random()
        self._triggers: dict[str, Trigger] = {}
        self._policies: dict[str, Policies] = {}
        self._windows: dict[str, Window] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._waker: Waker | None = None
        self._last_mark = -1
        self._last_version = -1
        self._db: SQLiteDatabase | None = None
        self._last_sweep = 0.0
        self.passes = 0  # completed passes: lets tests wait for "one more pass" without sleeping
        #: Readiness (horae.api.health): when the loop last went round (monotonic), and
        #: the error of the last pass if it failed.
        self.beat = time.monotonic()
        self.failing: str | None = None
        # Read now, so a bad setting fails the start with its name, not a thread later.
        self.retention_settings = retention or RetentionSettings.from_config()
        self.retention: Retention | None = None
        #: Liveness (store/explain_queries.py): this process's row, written at most every
        #: SEEN_EVERY seconds, so "why didn't it fire?" can name when no scheduler ran.
        self._host, self._pid = socket.gethostname(), os.getpid()
        self.id = f"{self._host}:{self._pid}:{uuid.uuid4().hex[:8]}"
        self._last_seen = 0.0

    def start(self) -> None:
        store = self.app.store
        try:
            store.scheduler_started(self.id, self._host, self._pid)
            self._last_seen = time.monotonic()
            store.schedulers_prune()
        except Exception as exc:  # liveness is an explanation aid: never block firing
            log.warning("could not record this scheduler's start (%s)", exc)
        sqlite_shared = store.dialect == "sqlite" and not store.db.url.endswith(":memory:")
        self._db = store.db if isinstance(store.db, SQLiteDatabase) else None
        self._waker = Waker(
            store.db, ["horae_schedules", "horae_fanout", "horae_backfills"],
            poll=self._changed_elsewhere if sqlite_shared else None,
            poll_interval=self.change_poll,
        )
        self._waker.start()
        self._thread = threading.Thread(target=self._loop, name="horae-scheduler", daemon=True)
        self._thread.start()
        if self.retention_settings.enabled:
            self.retention = Retention(store, self.retention_settings)
            self.retention.start()

    def stop(self) -> None:
        self._stopping.set()
        if self.retention is not None:
            self.retention.stop()
        if self._waker is not None:
            self._waker.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._waker is not None:
            self._waker.stop()
        try:
            self.app.store.scheduler_seen(self.id, self._host, self._pid, stopped=True)
        except Exception as exc:  # a closed or unreachable database: the gap shows anyway
            log.debug("could not record this scheduler's stop (%s)", exc)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        if self._waker is not None:
            self._waker.set()

    def _changed_elsewhere(self) -> bool:
        assert self._db is not None
        version = self._db.data_version()  # nothing committed elsewhere: skip the mark
        if version == self._last_version:
            return False
        self._last_version = version
        mark = self.app.store.schedules_changed_mark()
        changed, self._last_mark = mark != self._last_mark, mark
        return changed

    def _loop(self) -> None:
        assert self._waker is not None
        backoff = 0.1
        while not self._stopping.is_set():
            self.beat = time.monotonic()
            try:
                delay = self.run_once()
                backoff = 0.1
                self.failing = None
            except Exception as exc:
                self.failing = f"{type(exc).__name__}: {exc}"
                log.warning("scheduler pass failed (%s); retrying in %.1fs", exc, backoff)
                delay, backoff = backoff, min(backoff * 2, 5.0)
            if delay > 0:
                self._waker.wait(delay)

    def run_once(self) -> float:
        """One pass; returns how long to sleep before the next one."""
        store = self.app.store
        outcome = store.schedules_fire_due(self._plan, limit=self.batch)
        try:
            store.backfills_top_up(self._backfill_fires)
        except Exception as exc:  # backfills wait; fires and sweeps must not
            log.warning("backfill top-up failed (%s); retrying next pass", exc)
        store.runs_expand(self.worker_timeout)
        if outcome.fires:
            log.debug("fired %d (%d runs) for %d schedules", outcome.fires, outcome.runs_queued,
                      outcome.schedules)
        now_mono = time.monotonic()
        if now_mono - self._last_sweep >= self.sweep_interval:
            self._last_sweep = now_mono
            rescued = store.runs_rescue()
            if rescued:
                log.warning("rescued %d runs whose lease expired", len(rescued))
            expired = self._expire(store)
            if expired:
                log.info("%d runs were not started before their expire_after: missed",
                         expired)
            store.workers_mark_gone(self.worker_timeout)
        if now_mono - self._last_seen >= SEEN_EVERY:
            self._last_seen = now_mono
            store.scheduler_seen(self.id, self._host, self._pid)
        self.passes += 1
        if outcome.schedules >= self.batch:
            return 0.0  # more are due right now
        next_due, now = store.schedules_next_due_and_now()
        sleep = self.max_sleep
        if next_due is not None:
            sleep = min(sleep, max(0.0, next_due - now))
        return min(sleep, max(0.0, self.sweep_interval - (time.monotonic() - self._last_sweep)))

    @staticmethod
    def _expire(store: Store, batch: int = 1000, batches: int = 10) -> int:
        """Expired waiting runs become missed: batch after batch while whole batches come
        back (an overload can expire thousands a second), but never more than ``batches``
        in one sweep, so fires wait at most that long."""
        total = 0
        for _ in range(batches):
            n = store.runs_expire(limit=batch)
            total += n
            if n < batch:
                break
        return total

    def _plan(self, rows: list[DueRow], now: float) -> list[FirePlan]:
        plans = []
        for row in rows:
            try:
                trigger, policies = self._parse(row)
            except Exception as exc:  # written by hand past validation: stop it, loudly
                log.error("schedule %s has an unreadable trigger or policies (%s); it will "
                          "not fire until it is fixed", row.id, exc)
                plans.append(FirePlan(row.id, Policies(), next_fire_at=None))
                continue
            due = DueSchedule(row.id, trigger, policies, row.next_fire_at, row.fires,
                              row.waiting, row.running, row.oldest_active_at)
            plans.append(plan_fires(due, now, self._rng))
        return plans

    def _backfill_fires(self, window: str, cursor: float, end: float,
                        n: int) -> tuple[list[float], float | None]:
        """The next fires of a backfill (see ``Store.backfills_top_up``); its trigger and
        window parsed once per text."""
        parsed = self._windows.get(window)
        if parsed is None:
            if len(self._windows) > 1000:
                self._windows.clear()
            parsed = self._windows[window] = Window.loads(window)
        return parsed.next_batch(cursor, end, n)

    def _parse(self, row: DueRow) -> tuple[Trigger, Policies]:
        """Parsed trigger and policies, cached by their JSON text (policies repeat a lot)."""
        if len(self._triggers) > 200_000:
            self._triggers.clear()
        trigger = self._triggers.get(row.trigger)
        if trigger is None:
            trigger = self._triggers[row.trigger] = trigger_from_dict(_loads(row.trigger))
        policies = self._policies.get(row.policies)
        if policies is None:
            if len(self._policies) > 10_000:
                self._policies.clear()
            policies = self._policies[row.policies] = policies_from_json(row.policies)
        return trigger, policies


def _loads(text: str) -> dict[str, object]:
    import json

    data = json.loads(text)
    assert isinstance(data, dict)
    return data
