"""Following the event log as a consumer: a durable cursor, a lease, in order, no hole.

:class:`EventFollower` is the delivery machinery; what it delivers to is a subclass's
:meth:`EventFollower.work`. The hooks dispatcher (dispatcher.py) is one; the alert
deliverer of issue #14 is meant to be another consumer on the same class.

- **One consumer, one deliverer.** A consumer is a row of ``horae_consumers`` (a cursor
  and a lease, store/hook_queries.py). Every process may run a follower of it; only the
  one holding the lease delivers, and renews the lease on a thread of its own while it
  does (so work that blocks keeps it). When that process dies, its lease expires
  (``lease`` seconds) and another follower takes over from the cursor.
- **At least once, in order.** Events are handled in id order; the cursor moves past an
  event after its work returned, written at most every ``flush_every`` s in a burst and
  always at the end of a page. A process killed while it works has not moved the cursor,
  so its successor handles that event again (and those handled since the last write):
  an event is handled once unless a process dies (or loses its lease) mid-delivery, then
  possibly twice; never zero times while the event is retained (``events_keep_hours``).
- **No hole skipped.** On PostgreSQL an id N+1 can be visible before N commits. The
  follower never passes a missing id until it is sure the id's transaction ended: it
  notes the transactions running when it first sees the hole (the holder is one of them)
  and waits until none of them runs (hook_queries explains why that is enough). A
  rolled-back transaction's id is then passed; a committed one is delivered in its place.
  The cost is a pause of delivery (never of runs) while a writing transaction that was
  already open when the hole appeared stays open; a settle window by age would instead
  skip the event of a transaction slower than the window.
- **Never in the way.** The work runs on the follower's own thread, never on the
  scheduler's or a worker slot's. Memory is bounded: the log is read in pages. The
  thread sleeps until the wake-up signals the other loops use (wakeup.py: this process's
  commits, PostgreSQL NOTIFY, SQLite's ``data_version``), at most ``idle_wait`` seconds
  (a run's outcome sends no signal).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from horae.store.connection import SQLiteDatabase
from horae.store.hook_queries import LoggedEvent
from horae.wakeup import Waker

if TYPE_CHECKING:
    from horae.app import Horae

log = logging.getLogger("horae.hooks")

#: Seconds a hole may hold delivery back before the log says so.
HOLE_WARNING = 30.0
CHANNELS = ["horae_runs", "horae_schedules", "horae_cancel", "horae_fanout"]


class EventFollower:
    """Delivers the events of consumer ``consumer`` to :meth:`work`, as the module says.

    ``thread`` names the threads (``NAME`` and ``NAME-lease``).
    """

    def __init__(self, app: Horae, consumer: str, *, lease: float = 30.0,
                 thread: str = "horae-follower", page: int = 200, idle_wait: float = 0.25,
                 hole_wait: float = 0.05, flush_every: float = 0.05) -> None:
        self.app = app
        self.consumer = consumer
        self.lease = lease
        self.thread_name = thread
        self.page = page
        self.idle_wait = idle_wait
        self.hole_wait = hole_wait
        self.flush_every = flush_every
        #: Seconds :meth:`stop` waits for the work in progress to return.
        self.stop_wait = 5.0
        self._written_at = 0.0
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        #: Events handed to :meth:`work` by this process (tests and health read it).
        self.delivered = 0
        #: Completed passes: lets tests wait for "a few more passes" without sleeping.
        self.passes = 0
        self._cursor: int | None = None  # set while this process holds the lease
        self._holding = False
        #: A hole seen on PostgreSQL: (the largest id read then, the transactions running
        #: just after that read: the one holding the hole is among them).
        self._hole: tuple[int, frozenset[int]] | None = None
        self._hole_since: float | None = None  # when the wait for the current hole began
        self._hole_warned = False
        self._stopping = threading.Event()
        self._abandoned = False
        self._waker: Waker | None = None
        self._threads: list[threading.Thread] = []
        self._last_version = -1

    # -- life ------------------------------------------------------------------------

    def start(self) -> None:
        store = self.app.store
        # Now, not on the thread: events of what the caller does next are delivered.
        store.consumer_open(self.consumer)
        shared_sqlite = isinstance(store.db, SQLiteDatabase) and not store.db.memory
        self._waker = Waker(store.db, CHANNELS,
                            poll=self._written_elsewhere if shared_sqlite else None)
        self._waker.start()
        for target, name in ((self._run, self.thread_name),
                             (self._renew, f"{self.thread_name}-lease")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop following; work still running is not interrupted (its thread is a daemon)
        and the lease is given up, so another process goes on at once."""
        self._stopping.set()
        if self._waker is not None:
            self._waker.set()
        for thread in self._threads:
            thread.join(timeout=self.stop_wait)
        # Work still running past the join: when it returns, its thread must not touch
        # the store again (the app closes it; using it would open a new one).
        self._abandoned = any(thread.is_alive() for thread in self._threads)
        if self._waker is not None:
            self._waker.stop()
        if self._holding:
            self._holding = False
            try:
                self.app.store.consumer_release(self.consumer, self.owner)
            except Exception as exc:  # the lease then expires by itself
                log.warning("%s: could not give the lease up (%s)", self.consumer, exc)

    @property
    def alive(self) -> bool:
        return bool(self._threads) and self._threads[0].is_alive()

    @property
    def holding(self) -> bool:
        """Whether this process is the one delivering the consumer's events."""
        return self._holding

    # -- the loop --------------------------------------------------------------------

    def _run(self) -> None:
        assert self._waker is not None
        backoff = 0.1
        try:
            while not self._stopping.is_set():
                try:
                    wait = self._step()
                    self.passes += 1
                    backoff = 0.1
                except Exception as exc:
                    log.warning("%s: pass failed (%s); retrying in %.1fs", self.consumer, exc,
                                backoff)
                    wait, backoff = backoff, min(backoff * 2, 5.0)
                if wait > 0 and not self._holding:
                    self._stopping.wait(wait)  # changes do not matter until the lease does
                elif wait > 0:
                    self._waker.wait(wait)
        finally:
            self.finished()

    def _step(self) -> float:
        """Take the lease if needed, then deliver one page; how long to wait after."""
        store = self.app.store
        if not self._holding or self._cursor is None:
            cursor = store.consumer_lease(self.consumer, self.owner, self.lease)
            if cursor is None:  # another process delivers; try again when its lease may end
                return min(self.lease / 3, 1.0)
            self._cursor, self._holding = cursor, True
            log.info("%s delivers consumer %r from event %d", self.owner,
                     self.consumer, cursor)
        running = store.consumer_running()  # before the read: see _hole_is_final
        rows = store.consumer_events(self._cursor, self.page)
        handled = self._cursor
        for row in rows:
            if row.id != handled + 1 and not self._hole_is_final(handled + 1, running):
                if self._hole is None or handled + 1 > self._hole[0]:
                    suspects = store.consumer_running()  # after the read
                    assert suspects is not None  # only PostgreSQL has holes to wait for
                    self._hole = (rows[-1].id, suspects)
                self._advance(handled)
                return self._waiting_for_hole(handled + 1)
            self._hole_since = None
            if not self._deliver(row):
                return 0.0  # the lease was lost: take it again (or wait for it)
            handled = row.id
        if not self._advance(handled):
            return 0.0
        return 0.0 if len(rows) == self.page else self.idle_wait

    def _waiting_for_hole(self, missing: int) -> float:
        """How long to wait for a hole: short at first (holes last milliseconds), longer
        while an old transaction keeps it open, and say so once it lasts."""
        now = time.monotonic()
        if self._hole_since is None:
            self._hole_since, self._hole_warned = now, False
        waited = now - self._hole_since
        if waited > HOLE_WARNING and not self._hole_warned:
            self._hole_warned = True
            log.warning("%s: waiting %.0f s for event %d: a transaction that may still "
                        "write it is open", self.consumer, waited, missing)
        return min(self.hole_wait * (1 + waited), 1.0)

    def _hole_is_final(self, missing: int, running: frozenset[int] | None) -> bool:
        """Whether the missing id ``missing`` can be passed: on SQLite always (one writer),
        on PostgreSQL once none of the transactions that could hold it is ``running``
        (read before the page, so a commit it saw end is in the page)."""
        if running is None:
            return True
        hole = self._hole
        return hole is not None and missing <= hole[0] and not (hole[1] & running)

    def _deliver(self, row: LoggedEvent) -> bool:
        """Do the work of one event; False when the lease was lost before it."""
        work = self.work(row)
        if work is None:
            return True
        if not self._holding:
            self._cursor = None
            return False
        work()
        self.delivered += 1
        # After the work: a process that dies before the cursor is written has its
        # successor handle this event again (at least once).
        return self._advance(row.id, now=False)

    def _advance(self, cursor: int, *, now: bool = True) -> bool:
        """Write the cursor (and renew the lease); with ``now=False`` only if the last
        write is ``flush_every`` s old, so a burst of events costs a few writes, not one
        each (a process killed then repeats at most that burst). False: lease lost."""
        if self._abandoned:
            return False
        if self._cursor is None or cursor <= self._cursor:
            return True
        if not now and time.monotonic() - self._written_at < self.flush_every:
            return True
        if self.app.store.consumer_advance(self.consumer, self.owner, cursor, self.lease):
            self._cursor = cursor
            self._written_at = time.monotonic()
            return True
        log.warning("%s lost the lease of consumer %r", self.owner, self.consumer)
        self._holding, self._cursor = False, None
        return False

    def _renew(self) -> None:
        """Keep the lease while holding it, whatever the work on the loop thread does."""
        while not self._stopping.wait(self.lease / 3):
            if not self._holding:
                continue
            try:
                if self.app.store.consumer_lease(self.consumer, self.owner,
                                                 self.lease) is None:
                    log.warning("%s lost the lease of consumer %r", self.owner,
                                self.consumer)
                    self._holding = False
            except Exception as exc:  # the database is away: the loop reports it too
                log.debug("%s: renewing the lease failed (%s)", self.consumer, exc)

    # -- what subclasses say -----------------------------------------------------------

    def work(self, event: LoggedEvent) -> Callable[[], None] | None:
        """What to do for ``event`` (called on the follower's thread, in id order), or
        None when it does not concern this consumer (then nothing is written for it
        alone). The work must not raise: reporting its failures is the subclass's."""
        raise NotImplementedError

    def finished(self) -> None:
        """Called on the follower's thread when it ends (to close what work opened)."""

    def _written_elsewhere(self) -> bool:
        db = self.app.store.db
        assert isinstance(db, SQLiteDatabase)
        version = db.data_version()
        changed, self._last_version = version != self._last_version, version
        return changed

